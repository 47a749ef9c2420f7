/**
 * Command-line options: declared once (name, type, range, help), parsed strictly. `--name value`,
 * `--name=value`, and for booleans `--name`, `--no-name`, `--name=true|false` (nanoGPT's --bias=False works).
 * An unknown option, a missing or ill-typed value, or a value out of range is a TsgptError naming it.
 */
import { TsgptError } from '../errors.js';

export type FlagType = 'int' | 'float' | 'bool' | 'string';

export interface FlagSpec {
  name: string;
  type: FlagType;
  help: string;
  /** Shown in --help; the parser itself fills no defaults (commands merge presets and flags). */
  defaultText?: string;
  min?: number;
  /** Exclusive upper bound for floats like dropout, inclusive for ints. */
  max?: number;
  maxExclusive?: boolean;
  /** Values a string option may take. */
  choices?: readonly string[];
  metavar?: string;
}

export type FlagValue = number | boolean | string;

export function parseFlags(args: readonly string[], specs: readonly FlagSpec[], command: string): Map<string, FlagValue> {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values = new Map<string, FlagValue>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      throw new TsgptError(`unexpected argument "${arg}" for 'tsgpt ${command}' (options start with --; see 'tsgpt ${command} --help')`);
    }
    const eq = arg.indexOf('=');
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let raw: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let spec = byName.get(name);
    if (spec === undefined && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'bool' && raw === undefined) {
      spec = byName.get(name.slice(3))!;
      name = spec.name;
      raw = 'false';
    }
    if (spec === undefined) {
      const hint = closest(
        name,
        specs.map((s) => s.name),
      );
      throw new TsgptError(
        `unknown option --${name} for 'tsgpt ${command}'${hint ? ` (did you mean --${hint}?)` : ''}; see 'tsgpt ${command} --help'`,
      );
    }
    if (raw === undefined) {
      if (spec.type === 'bool') raw = 'true';
      else {
        const next = args[i + 1];
        if (next === undefined || (next.startsWith('--') && next.length > 2)) {
          throw new TsgptError(`option --${name} needs a value (${describeType(spec)})`);
        }
        raw = next;
        i++;
      }
    }
    if (values.has(name)) throw new TsgptError(`option --${name} is given twice`);
    values.set(name, parseFlagValue(spec, raw));
  }
  return values;
}

/** One option's value from its text, checked against its spec (the playground reads its address's options with it too). */
export function parseFlagValue(spec: FlagSpec, raw: string): FlagValue {
  const bad = () => new TsgptError(`option --${spec.name} takes ${describeType(spec)}, got "${raw}"`);
  switch (spec.type) {
    case 'bool': {
      const v = raw.toLowerCase();
      if (v === 'true' || v === '1' || v === 'yes') return true;
      if (v === 'false' || v === '0' || v === 'no') return false;
      throw bad();
    }
    case 'string':
      if (spec.choices !== undefined && !spec.choices.includes(raw)) throw bad();
      if (raw === '') throw bad();
      return raw;
    case 'int':
    case 'float': {
      const trimmed = raw.trim();
      // Plain decimal notation only: Number() would also take "0x10", "0b1" and "", and "1e-400" would
      // silently become 0. Integers may use an exponent ("5e3") but not a fraction.
      const syntax = spec.type === 'int' ? /^[+-]?\d+(e\+?\d+)?$/i : /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
      let n = syntax.test(trimmed) ? Number(trimmed) : NaN;
      if (n === 0 && /[1-9]/.test(trimmed.replace(/e.*$/i, ''))) n = NaN; // underflowed to zero
      if (!Number.isFinite(n) || (spec.type === 'int' && !Number.isSafeInteger(n))) throw bad();
      const tooHigh = spec.max !== undefined && (spec.maxExclusive ? n >= spec.max : n > spec.max);
      if ((spec.min !== undefined && n < spec.min) || tooHigh) throw bad();
      return n;
    }
  }
}

function describeType(spec: FlagSpec): string {
  if (spec.type === 'bool') return 'true or false';
  if (spec.type === 'string') return spec.choices ? `one of ${spec.choices.join(', ')}` : 'a non-empty value';
  const kind = spec.type === 'int' ? 'an integer' : 'a number';
  const lo = spec.min,
    hi = spec.max;
  if (lo !== undefined && hi !== undefined) return `${kind} from ${lo} to ${hi}${spec.maxExclusive ? ' (exclusive)' : ''}`;
  if (lo !== undefined) return `${kind} >= ${lo}`;
  return kind;
}

/** The declared name nearest to a mistyped one, if it is near enough to be a likely typo. */
function closest(name: string, names: readonly string[]): string | null {
  let best: string | null = null,
    bestDistance = Infinity;
  for (const candidate of names) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The options block of a command's --help. */
export function formatFlagHelp(specs: readonly FlagSpec[]): string {
  const left = specs.map((s) => `  --${s.name}${s.type === 'bool' ? '' : ` ${s.metavar ?? s.choices?.join('|') ?? s.type.toUpperCase()}`}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return specs
    .map((s, i) => {
      const def = s.defaultText !== undefined ? ` (default: ${s.defaultText})` : '';
      return left[i]!.padEnd(width) + s.help + def;
    })
    .join('\n');
}
