/** tsgpt bench: how fast this machine trains and samples a preset. */
import { kernels } from '../engine/backend.js';
import { benchPreset } from '../measure/bench_preset.js';
import { isPresetName, PRESETS } from '../train/config.js';
import { TsgptError } from '../errors.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';

export const BENCH_FLAGS: FlagSpec[] = [
  { name: 'preset', type: 'string', choices: Object.keys(PRESETS), help: 'model and batch to time', defaultText: 'baby' },
  { name: 'steps', type: 'int', min: 1, max: 1e6, help: 'timed training steps', defaultText: '50 (lecture: 2)' },
  { name: 'warmup', type: 'int', min: 0, max: 1e6, help: 'untimed steps first', defaultText: '20 (lecture: 1)' },
  { name: 'sample-tokens', type: 'int', min: 1, max: 1e6, help: 'tokens to sample, with and without the KV cache', defaultText: '300' },
  {
    name: 'rotary',
    type: 'bool',
    help: 'the preset with rotary embeddings (nanoGPT form only): sampling past the context rolls the cache, timed against cropping',
    defaultText: 'false',
  },
  { name: 'json', type: 'bool', help: 'print one JSON object', defaultText: 'false' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const BENCH_HELP = `Usage: tsgpt bench [options]

Times training steps of a preset on random tokens (ms per step, tokens/s, GFLOPS) and sampling with and
without the key/value cache (tokens/s); with --rotary, sampling past the context rolls the cache, and is timed
cropping too. Run it alone: anything else on the machine skews the figures.

Options:
${formatFlagHelp(BENCH_FLAGS)}`;

export async function benchCommand(args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, BENCH_FLAGS, 'bench');
  const preset = (flags.get('preset') as string | undefined) ?? 'baby';
  if (!isPresetName(preset)) throw new TsgptError(`unknown preset "${preset}"`);
  const heavy = preset === 'lecture';
  const rotary = flags.get('rotary') === true;
  const config = PRESETS[preset];
  if (rotary && !(config.kind === 'gpt' && config.style === 'nanogpt')) {
    throw new TsgptError(`--rotary applies to the nanoGPT form only; preset ${preset} is not one`);
  }
  const r = benchPreset({
    preset: rotary ? `${preset} --rotary` : preset,
    config: rotary ? { ...config, rotary: true } : config,
    kernels: kernels().name,
    steps: (flags.get('steps') as number | undefined) ?? (heavy ? 2 : 50),
    warmupSteps: (flags.get('warmup') as number | undefined) ?? (heavy ? 1 : 20),
    sampleTokens: (flags.get('sample-tokens') as number | undefined) ?? 300,
  });
  if (flags.get('json')) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const rate = (x: number) => Math.round(x).toLocaleString('en-US');
  process.stdout.write(
    `preset ${r.preset}, kernels ${r.kernels} on ${r.threads} thread${r.threads === 1 ? '' : 's'}, ${r.steps} steps\n` +
      `training: ${r.ms_per_step.toFixed(1)} ms/step, ${rate(r.tokens_per_s)} tokens/s, ${r.gflops.toFixed(2)} GFLOPS ` +
      `(${(100 * r.share_of_ceiling).toFixed(0)}% of this machine's matmul ceiling, ${r.ceiling_gflops.toFixed(1)} GFLOPS)\n` +
      `sampling ${r.sample_tokens} tokens: ${rate(r.sample_tokens_per_s)} tokens/s with the KV cache` +
      (r.sample_tokens_per_s_crop === null ? '' : ` rolling past the context, ${rate(r.sample_tokens_per_s_crop)} cropping`) +
      `, ${rate(r.sample_tokens_per_s_uncached)} without\n` +
      `sampling within the context (${PRESETS[preset].blockSize - 1} tokens): ${rate(r.sample_block_tokens_per_s)} tokens/s with the cache, ` +
      `${rate(r.sample_block_tokens_per_s_uncached)} without\n`,
  );
}
