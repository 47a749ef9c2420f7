/**
 * The playground page: train a model in a worker (TrainingWorker) with a live loss curve, tokens/s and ETA;
 * stop and resume; sample as the text streams; look at attention; load a run folder trained by the command
 * line and download the run trained here as a zip.
 *
 * For outside checks: <body data-state="idle|training|done|error"> says where the page is, elements with
 * data-metric="..." hold the latest figures (val_loss as a number), and the address can start training at
 * once (page_options.ts).
 */
import {
  type ModelSummary,
  PRESETS,
  type PresetName,
  type RunConfig,
  readRunFolderFiles,
  type RunFolderInput,
  type StepReport,
  type TrainingOutcome,
  TrainingWorker,
  viz,
} from '../src/index.js';
import { AttentionView } from './attention_view.js';
import { acceptDrops, droppedFiles } from './folder_drop.js';
import { count, duration, parameterCount, whole } from './format.js';
import { LossChart } from './loss_chart.js';
import { type PageOptions, pageOptions } from './page_options.js';
import { Throttled } from './throttled.js';

type State = 'idle' | 'training' | 'done' | 'error';
/** What the worker is doing for the page, one thing at a time. */
type Busy = 'starting' | 'train' | 'sample' | 'load' | null;

/** Where tsgpt serve offers its default text, relative to the page. */
const DEFAULT_TEXT_URL = 'data/default.txt';
/** tokens/s is the mean over this many recent steps. */
const SPEED_WINDOW = 20;
/**
 * The step, loss, tokens/s, ETA and bar are redrawn at most this often (Throttled says why). `baby` takes about
 * 10 steps a second; redrawing them at each step cost it about 2% of its tokens/s on 2 cores, against 4 times
 * a second (builds of the page alternated in one browser).
 */
const PROGRESS_MS = 500;

const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const metric = (name: string) => document.querySelector<HTMLElement>(`[data-metric="${name}"]`)!;

class Playground {
  private worker: TrainingWorker | null = null;
  private busy: Busy = 'starting';
  private options: PageOptions;
  /** The text tsgpt serve offers (null until fetched, or when there is none). */
  private serverText: { text: string; source: string } | null = null;
  private recent: StepReport[] = [];
  private readonly progress = new Throttled(PROGRESS_MS, () => this.showProgress());
  private session = { started: 0, firstStep: 0, maxIters: 0 };
  /** Whether the worker's model was trained here (and so can be downloaded or resumed). */
  private trainedHere = false;
  private stopped = false;
  /** The worker's model, as the run folders card shows it. */
  private summary: { model: ModelSummary; how: string } | null = null;
  private readonly chart = new LossChart(byId('chart'), () => this.preset());
  private readonly attention = new AttentionView(
    byId('attention-tokens'),
    byId('heatmap'),
    byId<HTMLSelectElement>('layer'),
    byId<HTMLSelectElement>('head'),
    byId('attention-controls'),
  );

  constructor() {
    let options: PageOptions | null = null;
    try {
      options = pageOptions(location.search);
    } catch (e) {
      this.fail(e);
    }
    this.options = options ?? pageOptions('');
    byId<HTMLSelectElement>('preset').value = this.options.preset;
    byId<HTMLInputElement>('max-iters').value = String(this.options.config.maxIters);
    this.describeConfig();
    this.wire();
    void this.start(options?.autostart === true);
  }

  private wire(): void {
    const preset = byId<HTMLSelectElement>('preset');
    preset.addEventListener('change', () => {
      this.options = {
        ...this.options,
        preset: preset.value as PresetName,
        config: { ...PRESETS[preset.value as PresetName] },
        overridden: [],
      };
      byId<HTMLInputElement>('max-iters').value = String(this.options.config.maxIters);
      this.describeConfig();
    });
    byId('max-iters').addEventListener('input', () => this.describeConfig());
    const source = byId<HTMLSelectElement>('text-source');
    source.addEventListener('change', () => this.showTextSource());
    const own = byId<HTMLTextAreaElement>('own-text');
    own.addEventListener('input', () => this.showTextSource());
    acceptDrops(own, (data) => void this.dropText(data));
    byId('start').addEventListener('click', () => void this.train());
    byId('stop').addEventListener('click', () => void this.worker?.stop());
    byId('resume').addEventListener('click', () => void this.train(true));
    for (const [input, out] of [
      ['temperature', 'temperature-value'],
      ['top-p', 'top-p-value'],
    ] as const) {
      byId(input).addEventListener('input', () => (byId(out).textContent = byId<HTMLInputElement>(input).value));
    }
    byId('generate').addEventListener('click', () => void this.sample());
    byId('stop-sample').addEventListener('click', () => void this.worker?.stop());
    byId('show-attention').addEventListener('click', () => void this.showAttention());
    byId('attention-text').addEventListener('keydown', (e) => {
      if ((e as KeyboardEvent).key === 'Enter') void this.showAttention();
    });
    for (const id of ['run-folder', 'run-zip']) {
      const input = byId<HTMLInputElement>(id);
      input.addEventListener('change', () => {
        if (input.files !== null && input.files.length > 0) void this.loadRun(input.files, 'the chosen run folder');
        input.value = '';
      });
    }
    acceptDrops(byId('run-drop'), (data) => void droppedFiles(data).then((files) => this.loadRun(files, 'the dropped run folder')));
    byId('download').addEventListener('click', () => void this.download());
    addEventListener('unhandledrejection', (e) => this.fail(e.reason));
  }

  /** Starts the worker and fetches the default text; then trains if the address says so. */
  private async start(autostart: boolean): Promise<void> {
    const text = this.fetchServerText();
    try {
      this.worker = await TrainingWorker.start({ threads: this.options.threads, relaxed: this.options.relaxed });
    } catch (e) {
      this.busy = null;
      this.fail(e);
      return;
    }
    const t = this.worker.threads;
    const threads = metric('threads');
    threads.textContent = `${t.threads} thread${t.threads === 1 ? '' : 's'} · ${t.variant === 'relaxed-simd' ? 'relaxed SIMD' : 'plain SIMD'}`;
    threads.dataset.value = String(t.threads);
    threads.title =
      t.variant === 'relaxed-simd' ? 'fused multiply-add: bits match machines that run this build' : 'the same bits on every machine';
    if (t.note !== null) this.note(`${t.note[0]!.toUpperCase()}${t.note.slice(1)}.`);
    await text;
    this.busy = null;
    if (document.body.dataset.state !== 'error') this.setState('idle');
    this.refresh();
    if (autostart) await this.train();
  }

  private async fetchServerText(): Promise<void> {
    const option = byId<HTMLSelectElement>('text-source').options[0]!;
    try {
      const response = await fetch(DEFAULT_TEXT_URL);
      if (!response.ok) throw new Error((await response.text()).trim() || `HTTP ${response.status}`);
      const text = new TextDecoder('utf-8', { fatal: true }).decode(await response.arrayBuffer());
      const source = decodeURIComponent(response.headers.get('X-Tsgpt-Source') ?? DEFAULT_TEXT_URL);
      this.serverText = { text, source };
      option.textContent = /tinyshakespeare|char-rnn/i.test(source) ? 'Tiny Shakespeare' : `The server's text (${source.split('/').pop()})`;
    } catch (e) {
      option.textContent = 'The server offers no text here';
      option.disabled = true;
      byId<HTMLSelectElement>('text-source').value = 'own';
      this.note(`No default text to train on (${(e as Error).message}): paste or drop your own.`);
    }
    this.showTextSource();
  }

  private showTextSource(): void {
    const own = byId<HTMLSelectElement>('text-source').value === 'own';
    const area = byId<HTMLTextAreaElement>('own-text');
    area.hidden = !own;
    const text = own ? area.value : (this.serverText?.text ?? '');
    const chars = new Set(text).size;
    byId('text-line').textContent =
      text === ''
        ? own
          ? 'Paste or drop a text of a few thousand characters or more.'
          : ''
        : `${whole(text.length)} characters, ${chars} distinct (the vocabulary).`;
    this.refresh();
  }

  private async dropText(data: DataTransfer): Promise<void> {
    const file = data.files[0];
    if (file === undefined) return;
    try {
      byId<HTMLTextAreaElement>('own-text').value = new TextDecoder('utf-8', { fatal: true }).decode(await file.arrayBuffer());
    } catch {
      this.fail(new Error(`${file.name} is not UTF-8 text`), false);
    }
    this.showTextSource();
  }

  private preset(): string {
    return this.options.preset;
  }

  /** The run config the form describes: the preset (with the address's options) and the steps. */
  private config(): RunConfig {
    const steps = Number(byId<HTMLInputElement>('max-iters').value);
    return { ...this.options.config, maxIters: Number.isInteger(steps) && steps >= 1 ? steps : this.options.config.maxIters };
  }

  private describeConfig(): void {
    const c = this.config();
    const model = c.kind === 'bigram' ? 'a bigram table' : `${count(c.nLayer, 'layer')}, ${count(c.nHead, 'head')}, width ${c.nEmbd}`;
    const lr = c.decayLr ? `${c.learningRate} to ${c.minLr}, cosine` : `${c.learningRate}`;
    const extra = this.options.overridden.filter((f) => f !== 'max-iters');
    byId('config-line').textContent =
      `${model}; context ${c.blockSize}, batch ${c.batchSize}, learning rate ${lr}; evaluates every ${c.evalInterval} steps.` +
      (extra.length > 0 ? ` Set by the address: ${extra.join(', ')}.` : '');
  }

  private async train(resume = false): Promise<void> {
    const worker = this.worker;
    if (worker === null || this.busy !== null) return;
    const own = byId<HTMLSelectElement>('text-source').value === 'own';
    const text = own ? byId<HTMLTextAreaElement>('own-text').value : (this.serverText?.text ?? '');
    const source = own ? 'text given in the playground' : (this.serverText?.source ?? DEFAULT_TEXT_URL);
    const config = this.config();
    this.busy = 'train';
    this.stopped = false;
    this.clearError();
    this.setState('training');
    this.recent = [];
    this.refresh();
    const callbacks = {
      onModel: (s: ModelSummary) => this.showSummary(s, 'trained here'),
      onStep: (r: StepReport) => this.onStep(r),
      onEval: (e: { step: number; trainLoss: number; valLoss: number }) => this.onEval(e),
    };
    try {
      let outcome: TrainingOutcome;
      if (resume) {
        this.session = { started: performance.now(), firstStep: Number(metric('step').dataset.value ?? 0), maxIters: config.maxIters };
        outcome = await worker.resume({ ...callbacks, maxIters: config.maxIters });
      } else {
        this.chart.clear();
        this.session = { started: performance.now(), firstStep: 0, maxIters: config.maxIters };
        this.trainedHere = true;
        outcome = await worker.train(text, config, { ...callbacks, source, preset: this.options.preset });
      }
      this.busy = null;
      this.progress.now();
      this.chart.drawNow();
      this.stopped = outcome.stopped;
      if (this.summary !== null) this.showSummary({ ...this.summary.model, step: outcome.step }, this.summary.how);
      metric('eta').textContent = outcome.stopped ? 'stopped' : 'done';
      this.setState(outcome.stopped ? 'idle' : 'done');
    } catch (e) {
      this.busy = null;
      this.progress.now();
      this.chart.drawNow();
      this.fail(e);
    }
    this.refresh();
  }

  private onStep(r: StepReport): void {
    this.chart.step(r);
    this.recent.push(r);
    if (this.recent.length > SPEED_WINDOW) this.recent.shift();
    this.progress.request();
  }

  /** Shows the latest step's figures. */
  private showProgress(): void {
    const r = this.recent.at(-1);
    if (r === undefined) return;
    const tokens = this.recent.reduce((n, s) => n + s.tokens, 0);
    const ms = this.recent.reduce((n, s) => n + s.ms, 0);
    const { started, firstStep, maxIters } = this.session;
    const step = metric('step');
    step.textContent = `${r.step} / ${maxIters}`;
    step.dataset.value = String(r.step);
    metric('loss').textContent = r.loss.toFixed(4);
    const speed = metric('tokens_per_s');
    speed.textContent = whole((tokens / ms) * 1000);
    speed.dataset.value = String((tokens / ms) * 1000);
    const perStep = (performance.now() - started) / 1000 / Math.max(1, r.step - firstStep);
    metric('eta').textContent = duration((maxIters - r.step) * perStep);
    byId('progress-bar').style.width = `${(100 * r.step) / maxIters}%`;
  }

  private onEval(e: { step: number; trainLoss: number; valLoss: number }): void {
    this.chart.evaluation({ ...e, best: false });
    const val = metric('val_loss');
    val.textContent = e.valLoss.toFixed(4);
    val.dataset.value = String(e.valLoss);
    const s = this.summary;
    if (s !== null) this.showSummary({ ...s.model, step: e.step, valLoss: Math.min(s.model.valLoss ?? Infinity, e.valLoss) }, s.how);
    this.refresh();
  }

  private async sample(): Promise<void> {
    const worker = this.worker;
    if (worker === null || this.busy !== null) return;
    const num = (id: string) => Number(byId<HTMLInputElement>(id).value);
    const out = byId('sample-output');
    out.textContent = '';
    this.busy = 'sample';
    this.clearError();
    this.refresh();
    try {
      await worker.sample(
        {
          start: byId<HTMLInputElement>('start-text').value,
          tokens: num('tokens'),
          temperature: num('temperature'),
          topK: num('top-k'),
          topP: num('top-p'),
          seed: num('seed'),
        },
        (text) => {
          out.textContent += text;
          out.scrollTop = out.scrollHeight;
        },
      );
    } catch (e) {
      this.fail(e, false);
    }
    this.busy = null;
    this.refresh();
  }

  private async showAttention(): Promise<void> {
    const worker = this.worker;
    if (worker === null || this.busy !== null) return;
    this.clearError();
    try {
      const result = await worker.attention(byId<HTMLInputElement>('attention-text').value);
      this.attention.show(result);
      const cropped =
        result.cropped > 0
          ? `The model reads at most ${result.tokens.length} characters: showing the text's last ${result.tokens.length}. `
          : '';
      byId('attention-hint').textContent =
        `${cropped}Hover (or tap) a character: the shading shows how much it attends to each earlier one.`;
    } catch (e) {
      this.fail(e, false);
    }
  }

  private async loadRun(input: RunFolderInput, label: string): Promise<void> {
    const worker = this.worker;
    if (worker === null || this.busy !== null) return;
    this.busy = 'load';
    this.clearError();
    this.refresh();
    try {
      const files = await readRunFolderFiles(input, label);
      const summary = await worker.loadRun(files, label);
      this.trainedHere = false;
      this.stopped = false;
      this.showSummary(summary, 'loaded from a run folder');
      this.showLog(files.get('log.jsonl'), label);
      this.setState('idle');
    } catch (e) {
      this.fail(e, false);
    }
    this.busy = null;
    this.refresh();
  }

  /** A loaded run's log, drawn as its loss curve (when it has one that reads). */
  private showLog(bytes: Uint8Array | undefined, label: string): void {
    this.chart.clear();
    for (const id of ['step', 'loss', 'val_loss', 'tokens_per_s', 'eta']) metric(id).textContent = '–';
    byId('progress-bar').style.width = '0';
    if (bytes === undefined) return;
    try {
      const log = viz.parseLossLog(new TextDecoder().decode(bytes), `${label}/log.jsonl`);
      for (const s of log.steps) this.chart.step({ step: s.step, loss: s.loss, lr: 0, gradNorm: 0, ms: 0, tokens: 0 });
      for (const e of log.evals) this.chart.evaluation({ ...e, best: false });
    } catch {
      // A log that does not read leaves the chart empty: the model itself loaded.
    }
  }

  private showSummary(s: ModelSummary, how: string): void {
    this.summary = { model: s, how };
    const m = s.model;
    const model =
      m.kind === 'bigram'
        ? `bigram table, context ${m.blockSize}`
        : `GPT (${m.style}): ${count(m.nLayer, 'layer')}, ${count(m.nHead, 'head')}, width ${m.nEmbd}, context ${m.blockSize}`;
    const rows: [string, string][] = [
      ['model', `${model}; ${how}`],
      ['parameters', parameterCount(s.parameters)],
      ['vocabulary', `${s.vocabulary.length} characters`],
      ['trained', s.valLoss === null ? `${s.step} steps` : `${s.step} steps; best val loss ${s.valLoss.toFixed(4)}`],
      ['text', s.data],
    ];
    const table = byId<HTMLTableElement>('summary');
    table.tBodies[0]!.replaceChildren(
      ...rows.map(([k, v]) => {
        const tr = document.createElement('tr');
        const th = document.createElement('th');
        const td = document.createElement('td');
        th.textContent = k;
        td.textContent = v;
        tr.append(th, td);
        return tr;
      }),
    );
    table.hidden = false;
  }

  private async download(): Promise<void> {
    const worker = this.worker;
    if (worker === null || this.busy !== null) return;
    const folder = `tsgpt-${this.options.preset}-step${metric('step').dataset.value ?? 0}`;
    try {
      const zip = await worker.saveRun(folder);
      const url = URL.createObjectURL(new Blob([zip], { type: 'application/zip' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `${folder}.zip`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      this.fail(e, false);
    }
  }

  /** Enables what can be done now. */
  private refresh(): void {
    const ready = this.worker !== null && this.busy === null;
    const own = byId<HTMLSelectElement>('text-source').value === 'own';
    const hasText = own ? byId<HTMLTextAreaElement>('own-text').value !== '' : this.serverText !== null;
    const hasModel = byId('summary').hidden === false;
    const enable = (id: string, on: boolean) => (byId<HTMLButtonElement>(id).disabled = !on);
    enable('start', ready && hasText);
    enable('stop', this.busy === 'train');
    enable('resume', ready && this.trainedHere && this.stopped);
    enable('generate', ready && hasModel);
    enable('stop-sample', this.busy === 'sample');
    enable('show-attention', ready && hasModel);
    enable('download', ready && this.trainedHere && metric('val_loss').dataset.value !== undefined);
    for (const id of ['preset', 'max-iters', 'text-source', 'own-text', 'run-folder', 'run-zip']) {
      (byId(id) as HTMLInputElement).disabled = this.busy === 'train';
    }
  }

  private setState(state: State): void {
    document.body.dataset.state = state;
    byId('state-label').textContent = state;
  }

  /** Shows what went wrong in one line; `training` failures put the page in the error state. */
  private fail(e: unknown, training = true): void {
    const user = e instanceof Error && e.name === 'TsgptError';
    const message = user ? (e as Error).message : `something went wrong: ${e instanceof Error ? e.message : String(e)}`;
    const banner = byId('error');
    banner.textContent = message[0]!.toUpperCase() + message.slice(1);
    banner.hidden = false;
    if (training) this.setState('error');
    if (!user) console.error(e);
  }

  private clearError(): void {
    byId('error').hidden = true;
  }

  private note(text: string): void {
    const note = byId('note');
    note.textContent = text;
    note.hidden = false;
  }
}

new Playground();
