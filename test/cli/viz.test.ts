/**
 * The pictures of a run: loss curves (SVG and terminal), attention heatmaps and bars, and the HTML pages. The
 * checks are structural (well-formed XML, the expected axes, labels, cells and bars), never pixel values;
 * the real-browser rendering is test/report_browser.test.ts.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { GPT } from '../../src/models/gpt.js';
import { createModel } from '../../src/models/index.js';
import {
  attentionFigures,
  attentionHeatmapSvg,
  attentionPageHtml,
  causalRowError,
  lossCurveSvg,
  meanOverHeads,
  parseLossLog,
  queryBarsSvg,
  runReportHtml,
  terminalLossCurve,
  visibleToken,
  type LossLog,
} from '../../src/viz/index.js';
import { runNames, splitPositionals, PLOT_FLAGS } from '../../src/cli/plot_command.js';
import { makeTinyRun, tsgptIn } from '../helpers/tiny_run.js';
import { parseXml, select, textOf, type XmlElement } from '../helpers/xml.js';

/** A plausible log: noisy falling training loss every step, an evaluation every 50 steps. */
function syntheticLog(steps = 200, seed = 1, start = 4.2): LossLog {
  const rng = new Rng(seed);
  const curve = (s: number) => 1.6 + (start - 1.6) * Math.exp(-s / 60);
  const log: LossLog = { steps: [], evals: [] };
  for (let s = 0; s <= steps; s++) {
    if (s > 0) log.steps.push({ step: s, loss: curve(s) + (rng.uniform() - 0.5) * 0.3 });
    if (s % 50 === 0) log.evals.push({ step: s, trainLoss: curve(s) - 0.02, valLoss: curve(s) + 0.08 });
  }
  return log;
}

function assertStandaloneSvg(svg: string): XmlElement {
  const root = parseXml(svg);
  assert.equal(root.name, 'svg');
  assert.equal(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
  assert.equal(root.attrs.version, '1.1');
  assert.match(root.attrs.viewBox ?? '', /^0 0 \d+ \d+$/);
  // Plain SVG: nothing to run, nothing to fetch.
  assert.doesNotMatch(svg, /<script|<foreignObject|<image|href=|@import|url\(/i);
  return root;
}

function numbers(texts: XmlElement[]): number[] {
  return texts.map((t) => Number(textOf(t)));
}

test('loss curve SVG: well formed, with axes, tick labels, axis titles, a legend and a title', () => {
  const log = syntheticLog();
  const root = assertStandaloneSvg(lossCurveSvg([{ name: 'baby', log }]));
  for (const axis of ['x', 'y']) {
    const g = select(root, 'g', 'axis').find((e) => e.attrs.class!.split(' ').includes(axis));
    assert.ok(g, `no ${axis} axis`);
    const ticks = numbers(select(g, 'text', 'tick-label'));
    assert.ok(ticks.length >= 3, `${axis} axis has ${ticks.length} tick labels`);
    assert.ok(
      ticks.every((v) => Number.isFinite(v)),
      `${axis} tick labels are numbers: ${ticks}`,
    );
    assert.ok(
      ticks.every((v, i) => i === 0 || v > ticks[i - 1]!),
      `${axis} ticks increase: ${ticks}`,
    );
    assert.equal(select(g, 'line', 'tick').length, ticks.length);
    assert.equal(select(g, 'line', 'axis-line').length, 1);
  }
  const xTicks = numbers(select(select(root, 'g', 'x')[0]!, 'text', 'tick-label'));
  assert.equal(xTicks[0], 0);
  assert.ok(xTicks.at(-1)! <= 200 && xTicks.at(-1)! >= 150);
  const yTicks = numbers(select(select(root, 'g', 'y')[0]!, 'text', 'tick-label'));
  assert.ok(yTicks[0]! <= 1.7 && yTicks.at(-1)! >= 4.2, `y axis ${yTicks} covers the losses`);
  assert.deepEqual(select(root, 'text', 'axis-title').map(textOf), ['step', 'cross-entropy loss']);
  assert.equal(textOf(select(root, 'text', 'title')[0]!), 'Loss: baby');
  assert.match(textOf(select(root, 'text', 'subtitle')[0]!), /best validation loss 1\.\d{4} at step 200/);
  const legend = select(root, 'g', 'legend');
  assert.equal(legend.length, 1);
  assert.deepEqual(select(legend[0]!, 'text', 'legend-label').map(textOf), [
    'training loss, each step',
    'training loss, evaluated',
    'validation loss, evaluated',
  ]);
  for (const series of ['train-steps', 'train-evals', 'val-evals']) assert.equal(select(root, 'g', series).length, 1, series);
  // One point per evaluation on each evaluated series.
  assert.equal(select(select(root, 'g', 'val-evals')[0]!, 'circle').length, log.evals.length);
  assert.equal(select(select(root, 'g', 'train-evals')[0]!, 'circle').length, log.evals.length);
});

test('loss curves of several runs: one colour per run, the legend names each run', () => {
  const runs = [
    { name: 'baby', log: syntheticLog(200, 1) },
    { name: 'lecture', log: syntheticLog(300, 2, 4.5) },
    { name: 'bigram', log: syntheticLog(100, 3) },
  ];
  const root = assertStandaloneSvg(lossCurveSvg(runs));
  const colours = select(root, 'g', 'val-evals').map((g) => select(g, 'path')[0]!.attrs.stroke);
  assert.equal(colours.length, 3);
  assert.equal(new Set(colours).size, 3, `colours ${colours}`);
  const labels = select(root, 'text', 'legend-label').map(textOf);
  for (const r of runs)
    assert.ok(
      labels.some((l) => l.startsWith(`${r.name} (best val `)),
      `${r.name} missing from legend ${labels}`,
    );
  const xTicks = numbers(select(select(root, 'g', 'x')[0]!, 'text', 'tick-label'));
  assert.ok(xTicks.at(-1)! >= 250, 'the step axis spans the longest run');
});

test('loss curve: an empty log, a single evaluation and a diverged loss still make a valid picture', () => {
  const empty = assertStandaloneSvg(lossCurveSvg([{ name: 'new', log: { steps: [], evals: [] } }]));
  assert.equal(textOf(select(empty, 'text', 'empty')[0]!), 'no losses logged yet');
  assertStandaloneSvg(lossCurveSvg([{ name: 'one', log: { steps: [], evals: [{ step: 0, trainLoss: 4.17, valLoss: 4.18 }] } }]));
  const log = syntheticLog(100);
  log.evals[1]!.valLoss = NaN;
  const root = assertStandaloneSvg(lossCurveSvg([{ name: 'nan <&> "run"', log }]));
  // The NaN breaks the validation line into two pieces instead of drawing a spike.
  const d = select(select(root, 'g', 'val-evals')[0]!, 'path')[0]!.attrs.d!;
  assert.equal(d.match(/M/g)!.length, 2);
  assert.equal(textOf(select(root, 'text', 'title')[0]!), 'Loss: nan <&> "run"');
});

test('parseLossLog reads steps and evaluations, skips a torn last line, and refuses a broken middle line', () => {
  const lines = [
    JSON.stringify({ type: 'start', time: 'now' }),
    JSON.stringify({ type: 'eval', step: 0, train_loss: 4.2, val_loss: 4.3, best: true }),
    JSON.stringify({ type: 'step', step: 1, loss: 4.1, lr: 1e-3 }),
    JSON.stringify({ type: 'step', step: 2, loss: null }),
  ];
  const log = parseLossLog(`${lines.join('\n')}\n{"type":"step","st`, 'log.jsonl');
  assert.deepEqual(log.evals, [{ step: 0, trainLoss: 4.2, valLoss: 4.3 }]);
  assert.equal(log.steps.length, 2);
  assert.ok(Number.isNaN(log.steps[1]!.loss));
  assert.throws(() => parseLossLog([lines[0], '{oops', lines[1]].join('\n'), 'x/log.jsonl'), /x\/log\.jsonl: line 2 is not JSON/);
  assert.throws(() => parseLossLog('[1,2]\n[3]\n', 'x/log.jsonl'), /not a JSON object/);
  assert.deepEqual(parseLossLog('', 'empty'), { steps: [], evals: [] });
});

test('terminal curve: a few lines of Braille and bars with min and max labels, within 80 columns', () => {
  const log = syntheticLog(2000);
  const text = terminalLossCurve(log);
  const lines = text.split('\n');
  assert.ok(lines.length >= 5 && lines.length <= 8, text);
  for (const l of lines) assert.ok([...l].length <= 80, `too wide (${[...l].length}): ${l}`);
  const vals = log.evals.map((e) => e.valLoss);
  assert.match(lines[0]!, new RegExp(`^val loss +${Math.max(...vals).toFixed(4)} ┤[\u2800-\u28ff]`));
  assert.match(lines[3]!, new RegExp(`${Math.min(...vals).toFixed(4)} ┤`));
  assert.match(text, /[\u2801-\u28ff]/);
  const train = lines.find((l) => l.startsWith('train loss'))!;
  assert.match(train, /[▁▂▃▄▅▆▇█]{20,}\s+\d\.\d{4}–\d\.\d{4}$/);
  assert.match(text, /step 0 +2000/);
  assert.match(lines.at(-1)!, /best validation loss \d\.\d{4} at step 2000/);
  assert.equal(terminalLossCurve({ steps: [], evals: [] }), 'loss curve: no losses logged');
  assert.ok(terminalLossCurve({ steps: [], evals: [{ step: 0, trainLoss: 4, valLoss: 4 }] }).split('\n').length >= 3);
});

/** A random causal attention map (rows are distributions over s <= t). */
function randomCausal(T: number, rng: Rng): Float32Array {
  const m = new Float32Array(T * T);
  for (let t = 0; t < T; t++) {
    let sum = 0;
    for (let s = 0; s <= t; s++) sum += m[t * T + s] = rng.uniform() ** 3;
    for (let s = 0; s <= t; s++) m[t * T + s]! /= sum;
  }
  return m;
}

test('heatmap: one cell per causal pair (T(T+1)/2), every character labelled on both axes, the rest masked', () => {
  const chars = [...'To be\nor '];
  const T = chars.length;
  const m = randomCausal(T, new Rng(3));
  assert.ok(causalRowError(m, T) < 1e-6);
  const labels = chars.map(visibleToken);
  const root = assertStandaloneSvg(attentionHeatmapSvg(m, labels, { title: 'layer 0 · head 0', subtitle: 'test' }));
  const cells = select(root, 'rect', 'cell');
  assert.equal(cells.length, (T * (T + 1)) / 2);
  // Each cell sits on or below the diagonal: its column is at most its row.
  const xs = [...new Set(cells.map((c) => Number(c.attrs.x)))].sort((a, b) => a - b);
  const ys = [...new Set(cells.map((c) => Number(c.attrs.y)))].sort((a, b) => a - b);
  assert.equal(xs.length, T);
  assert.equal(ys.length, T);
  for (const c of cells) assert.ok(xs.indexOf(Number(c.attrs.x)) <= ys.indexOf(Number(c.attrs.y)));
  const expected = ['T', 'o', '␣', 'b', 'e', '⏎', 'o', 'r', '␣'];
  assert.deepEqual(select(select(root, 'g', 'rows')[0]!, 'text').map(textOf), expected);
  assert.deepEqual(select(select(root, 'g', 'columns')[0]!, 'text').map(textOf), expected);
  assert.equal(select(root, 'path', 'masked').length, 1);
  assert.equal(select(root, 'text', 'axis-title').length, 2);
  // The tooltip of each cell states the weight it shows.
  const first = cells[0]!.children.find((c) => typeof c !== 'string' && c.name === 'title') as XmlElement;
  assert.match(textOf({ ...first, name: 'x' }), /query 0 T → key 0 T: 1\.000/);
  assert.throws(() => attentionHeatmapSvg(m.subarray(1), labels, { title: 'x' }), /expected 9 x 9/);
});

test('a real GPT: attention rows sum to one and stay causal; figures for every head, mean and query bars', () => {
  const config = {
    kind: 'gpt' as const,
    style: 'nanogpt' as const,
    vocabSize: 11,
    blockSize: 12,
    nLayer: 2,
    nHead: 3,
    nEmbd: 12,
    dropout: 0,
    bias: false,
  };
  const model = createModel(config, new Rng(5));
  assert.ok(model instanceof GPT);
  const ids = [1, 4, 2, 0, 9, 3, 3, 7];
  const T = ids.length;
  const maps = model.attentionMaps(ids);
  assert.equal(maps.length, 2);
  for (const heads of maps) {
    assert.equal(heads.length, 3);
    for (const h of heads) assert.ok(causalRowError(h, T) < 1e-5, `row error ${causalRowError(h, T)}`);
    assert.ok(causalRowError(meanOverHeads(heads, T), T) < 1e-5);
  }
  const tokens = ['a', ' ', 'b', '\n', '<', '&', 'c', 'd'];
  const q = 5;
  const figures = attentionFigures({ maps, tokens, queryPos: q });
  assert.deepEqual(
    figures.map((f) => f.file),
    [
      'layer0_head0.svg',
      'layer0_head1.svg',
      'layer0_head2.svg',
      'layer0_mean.svg',
      'query5_layer0.svg',
      'layer1_head0.svg',
      'layer1_head1.svg',
      'layer1_head2.svg',
      'layer1_mean.svg',
      'query5_layer1.svg',
    ],
  );
  for (const f of figures) {
    const root = assertStandaloneSvg(f.svg);
    if (f.kind === 'query') {
      const heads = select(root, 'g', 'head');
      assert.equal(heads.filter((g) => !g.attrs.class!.includes('mean')).length, 3);
      // One bar per position the query may attend to (0..q, itself included), in every head and the mean.
      for (const g of heads) assert.equal(select(g, 'rect', 'bar').length, q + 1);
    } else {
      assert.equal(select(root, 'rect', 'cell').length, (T * (T + 1)) / 2);
      assert.deepEqual(select(select(root, 'g', 'rows')[0]!, 'text').map(textOf), ['a', '␣', 'b', '⏎', '<', '&', 'c', 'd']);
    }
  }
  assert.throws(() => queryBarsSvg([{ name: 'h', matrix: maps[0]![0]! }], tokens, T, { title: 'x' }), /outside 0\.\.7/);
  model.dispose();
});

/** A page may fetch nothing: no URL schemes, no src/href other than data: URIs, no CSS imports. */
function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /https?:\/\//i);
  assert.doesNotMatch(html, /<script/i);
  for (const m of html.matchAll(/\b(?:src|href|xlink:href)\s*=\s*["']?([^"'\s>]*)/gi)) assert.match(m[1]!, /^data:/, `reference ${m[0]}`);
  assert.doesNotMatch(html, /@import|url\((?!\s*['"]?data:)/i);
  assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
}

test('HTML pages are self-contained, escape their text, and are well formed', () => {
  const rng = new Rng(9);
  const T = 6;
  const maps = [[randomCausal(T, rng), randomCausal(T, rng)]];
  const tokens = [...'<b>&x"'];
  const figures = attentionFigures({ maps, tokens, queryPos: 3 });
  const page = attentionPageHtml({ title: 'Attention: runs/<odd>', notes: ['a note with <tags> & "quotes"'], figures });
  assertSelfContained(page);
  const root = parseXml(page);
  assert.equal(select(root, 'svg').length, figures.length);
  assert.equal(textOf(select(root, 'title')[0]!), 'Attention: runs/<odd>');
  assert.ok(page.includes('a note with &lt;tags&gt; &amp; &quot;quotes&quot;'));

  const evil = '</pre><script>alert(1)</script> & "quoted"\n';
  const report = runReportHtml({
    name: 'runs/<baby>',
    tables: [
      {
        title: 'Model',
        rows: [
          ['layers', '4'],
          ['<key>', '<value>'],
        ],
      },
    ],
    parameters: 802_560,
    parameterNote: 'as nanoGPT counts them',
    lossSvg: lossCurveSvg([{ name: 'baby', log: syntheticLog() }]),
    samples: [0.5, 0.8, 1].map((temperature) => ({ temperature, prompt: '\n', text: evil })),
    sampleNote: 'seeded',
    attention: { figures, notes: ['prompt'] },
  });
  assertSelfContained(report);
  const r = parseXml(report);
  assert.equal(select(r, 'pre', 'sample').length, 3);
  for (const pre of select(r, 'pre', 'sample')) assert.equal(textOf(pre), `\n${evil}`);
  assert.match(report, /0\.80M \(802,560\)/);
  assert.equal(select(r, 'svg').length, 1 + figures.length);
  const bigram = runReportHtml({
    name: 'b',
    tables: [],
    parameters: 4225,
    parameterNote: 'table',
    lossSvg: null,
    lossNote: 'No loss curve.',
    samples: [],
    sampleNote: '',
    attention: { unavailable: 'This is a bigram model: it has no attention layers.' },
  });
  assertSelfContained(bigram);
  assert.match(textOf(parseXml(bigram)), /no attention layers/);
});

test('run names tell folders apart; positional folders are separated from options', () => {
  assert.deepEqual(runNames(['runs/a', 'runs/b/']), ['a', 'b']);
  assert.deepEqual(runNames(['x/baby', 'y/baby', 'z']), ['x/baby', 'y/baby', 'z']);
  assert.deepEqual(splitPositionals(['runs/a', '--out', 'o.svg', 'runs/b', '--terminal', '--title=T', '--', '--odd'], PLOT_FLAGS), {
    positionals: ['runs/a', 'runs/b', '--odd'],
    flagArgs: ['--out', 'o.svg', '--terminal', '--title=T'],
  });
});

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-viz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** One line on stderr starting "tsgpt: ", a non-zero exit, no stack trace. */
function assertCleanError(r: ReturnType<typeof tsgptIn>, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^tsgpt: /);
  assert.match(lines[0]!, pattern);
}

test('tsgpt plot, attention and report on tiny run folders', () => {
  const run = makeTinyRun(dir, 'tiny');
  makeTinyRun(dir, 'bi', 'bigram');
  cpSync(run, join(dir, 'other', 'tiny'), { recursive: true });

  // plot: one run writes RUN/loss.svg; several overlay into --out.
  let r = tsgptIn(dir, 'plot', 'tiny', '--terminal');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^tiny\nval loss/);
  assertStandaloneSvg(readFileSync(join(run, 'loss.svg'), 'utf8'));
  r = tsgptIn(dir, 'plot', 'tiny', 'bi', 'other/tiny', '--out', 'all.svg');
  assert.equal(r.code, 0, r.stderr);
  const labels = select(parseXml(readFileSync(join(dir, 'all.svg'), 'utf8')), 'text', 'legend-label').map(textOf);
  for (const name of ['tiny (best', 'bi (best', 'other/tiny (best'])
    assert.ok(
      labels.some((l) => l.startsWith(name)),
      `${name} in ${labels}`,
    );
  assertCleanError(tsgptIn(dir, 'plot'), /needs at least one run folder/);
  assertCleanError(tsgptIn(dir, 'plot', 'missing'), /no run folder at missing/);
  assertCleanError(tsgptIn(dir, 'plot', '.'), /has no log\.jsonl/);

  // attention: a text longer than the block size (16) keeps its last 16 characters and says so.
  const text = 'to be or not to be, that is the question';
  r = tsgptIn(dir, 'attention', '--from', 'tiny', '--text', text, '--query-pos', '15');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /the text has 40 characters but the model reads at most 16: showing its last 16/i);
  const out = join(run, 'attention');
  const files = readdirSync(out).sort();
  assert.deepEqual(files, ['index.html', 'layer0_head0.svg', 'layer0_head1.svg', 'layer0_mean.svg', 'query15_layer0.svg']);
  const heat = assertStandaloneSvg(readFileSync(join(out, 'layer0_head1.svg'), 'utf8'));
  assert.equal(
    select(select(heat, 'g', 'columns')[0]!, 'text')
      .map(textOf)
      .join(''),
    [...text.slice(-16)].map(visibleToken).join(''),
  );
  const page = readFileSync(join(out, 'index.html'), 'utf8');
  assertSelfContained(page);
  assert.match(page, /showing its last 16/);
  assert.equal(select(parseXml(page), 'svg').length, 4);
  // A second text replaces the first one's figures instead of leaving stale ones beside them.
  r = tsgptIn(dir, 'attention', '--from', 'tiny', '--text', 'to be', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    readdirSync(out).some((f) => f.startsWith('query')),
    false,
  );
  assertCleanError(tsgptIn(dir, 'attention', '--from', 'bi', '--text', 'to be'), /bigram model, which has no attention/);
  assertCleanError(
    tsgptIn(dir, 'attention', '--from', 'tiny', '--text', 'to be', '--query-pos', '5'),
    /--query-pos 5 is past the end .*0 to 4/,
  );
  assertCleanError(tsgptIn(dir, 'attention', '--from', 'tiny'), /needs --text/);
  assertCleanError(tsgptIn(dir, 'attention', '--from', 'tiny', '--text', 'Zebra!'), /outside the vocabulary/);

  // report: a GPT run gets every section; a bigram run says it has no attention.
  r = tsgptIn(dir, 'report', 'tiny', '--tokens', '60');
  assert.equal(r.code, 0, r.stderr);
  const report = readFileSync(join(run, 'report.html'), 'utf8');
  assertSelfContained(report);
  const root = parseXml(report);
  assert.deepEqual(select(root, 'h2').map(textOf), ['Model and configuration', 'Loss', 'Samples', 'Attention']);
  assert.deepEqual(
    select(root, 'h3')
      .map(textOf)
      .filter((h) => h.startsWith('temperature')),
    ['temperature 0.5', 'temperature 0.8', 'temperature 1'],
  );
  assert.equal(select(root, 'pre', 'sample').length, 3);
  assert.equal(select(root, 'svg').length, 1 + 3);
  // Seeded: the same command writes the same page.
  tsgptIn(dir, 'report', 'tiny', '--tokens', '60', '--out', 'again.html');
  assert.equal(readFileSync(join(dir, 'again.html'), 'utf8'), report);
  r = tsgptIn(dir, 'report', '--from', 'bi', '--temperatures', '0,1', '--out', 'bi.html');
  assert.equal(r.code, 0, r.stderr);
  const bi = readFileSync(join(dir, 'bi.html'), 'utf8');
  assertSelfContained(bi);
  assert.match(bi, /no attention layers/);
  assert.equal(select(parseXml(bi), 'svg').length, 1);
  assertCleanError(tsgptIn(dir, 'report', 'tiny', '--temperatures', 'hot'), /--temperatures takes comma-separated numbers/);
  assertCleanError(tsgptIn(dir, 'report'), /needs a run folder/);
  assertCleanError(tsgptIn(dir, 'report', 'tiny', 'bi'), /takes one run folder/);
});
