/**
 * The playground's address as a contract for outside checks and links:
 *
 *   ?preset=NAME&max-iters=N&autostart=1
 *
 * starts training at once. Every training option of `tsgpt train` is read the same way, by its flag name and
 * with the same ranges (&n-layer=2&learning-rate=3e-4); besides them: threads=auto|N (threads to compute on)
 * and simd=relaxed|plain (plain forces the build whose bits are the same on every machine). An unknown or
 * ill-typed option is one line of error, as a bad flag is on the command line.
 */
import { parseFlagValue } from '../src/cli/flags.js';
import { HYPERPARAMETERS, isPresetName, PRESETS, type PresetName, type RunConfig, TsgptError } from '../src/index.js';

export interface PageOptions {
  preset: PresetName;
  /** The preset with the address's options over it. */
  config: RunConfig;
  /** The options the address set beyond the preset (flag names), which the page shows as such. */
  overridden: string[];
  autostart: boolean;
  threads: number | 'auto';
  relaxed: boolean;
}

const PAGE_ONLY = ['preset', 'autostart', 'threads', 'simd'];

export function pageOptions(search: string): PageOptions {
  const params = new URLSearchParams(search);
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (seen.has(key)) throw new TsgptError(`the address gives ${key} twice`);
    seen.add(key);
    if (!PAGE_ONLY.includes(key) && !HYPERPARAMETERS.some((h) => h.flag === key)) {
      throw new TsgptError(
        `the address has an unknown option "${key}"; it takes ${PAGE_ONLY.join(', ')} and the options of tsgpt train (${HYPERPARAMETERS.map((h) => h.flag).join(', ')})`,
      );
    }
  }
  const preset = params.get('preset') ?? 'baby';
  if (!isPresetName(preset))
    throw new TsgptError(`the address asks for preset "${preset}"; presets are ${Object.keys(PRESETS).join(', ')}`);
  const config: RunConfig = { ...PRESETS[preset] };
  const overridden: string[] = [];
  for (const spec of HYPERPARAMETERS) {
    const raw = params.get(spec.flag);
    if (raw === null) continue;
    (config as unknown as Record<string, unknown>)[spec.key] = parseFlagValue({ ...spec, name: spec.flag }, raw);
    overridden.push(spec.flag);
  }
  return {
    preset,
    config,
    overridden,
    autostart: flag(params, 'autostart'),
    threads: threadsOption(params.get('threads')),
    relaxed: simdOption(params.get('simd')),
  };
}

function flag(params: URLSearchParams, name: string): boolean {
  const v = params.get(name);
  if (v === null) return false;
  if (['1', 'true', 'yes', ''].includes(v)) return true;
  if (['0', 'false', 'no'].includes(v)) return false;
  throw new TsgptError(`the address's ${name} must be 1 or 0, got "${v}"`);
}

function threadsOption(v: string | null): number | 'auto' {
  if (v === null || v === 'auto') return 'auto';
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 256)
    throw new TsgptError(`the address's threads must be auto or a whole number from 1 to 256, got "${v}"`);
  return n;
}

function simdOption(v: string | null): boolean {
  if (v === null || v === 'relaxed') return true;
  if (v === 'plain') return false;
  throw new TsgptError(`the address's simd must be relaxed or plain, got "${v}"`);
}
