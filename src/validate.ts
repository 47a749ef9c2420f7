/**
 * Small checks for JSON read from run folders, which may come from anyone: each failure is a TsgptError whose
 * message names the file and field and quotes the bad value short and on one line.
 */
import { TsgptError } from './errors.js';

export function integer(v: unknown, label: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new TsgptError(`${label} must be an integer from ${min} to ${max}, got ${describe(v)}`);
  }
  return v;
}

export function asObject(v: unknown, label: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TsgptError(`${label}: expected a JSON object, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

/** A value from a hostile file, short and on one line, for a message. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  const s = JSON.stringify(v) ?? String(v);
  return oneLine(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

/** A string from a hostile file (a tensor name, a key), quoted, cut to `max` characters and on one line. */
export function quote(s: string, max = 60): string {
  return oneLine(JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s));
}

/** Control characters and line separators become spaces: a hostile value cannot forge or break a message line. */
export function oneLine(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
}

/**
 * Parses a tsgpt JSON file and checks its format tag and version: the part every reader shares. `what`
 * names the kind of file for the error ("a tsgpt run config").
 */
export function parseVersionedJson(text: string, label: string, format: string, version: number, what: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TsgptError(`${label}: not valid JSON (${oneLine((e as Error).message)})`);
  }
  const obj = asObject(json, label);
  if (obj.format !== format) throw new TsgptError(`${label}: not ${what} (format is ${describe(obj.format)})`);
  if (obj.version !== version) {
    throw new TsgptError(`${label}: version ${describe(obj.version)} is not supported (this tsgpt reads ${version})`);
  }
  return obj;
}
