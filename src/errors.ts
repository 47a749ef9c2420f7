/**
 * A mistake the user can fix: a bad flag, a missing file, a corrupt checkpoint, a character outside the
 * vocabulary. The CLI prints its message as one line and exits non-zero; anything else that escapes is a bug
 * in tsgpt and keeps its stack trace.
 */
export class TsgptError extends Error {
  override readonly name = 'TsgptError';
}

/** Throws a TsgptError with `message` unless `condition` holds. */
export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new TsgptError(typeof message === 'string' ? message : message());
}
