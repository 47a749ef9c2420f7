/**
 * --unknown and --replacement: what a command does with characters of a user's text that the run's vocabulary
 * lacks. One declaration for every command that encodes text (sample, memory).
 */
import { TsgptError } from '../errors.js';
import type { EncodeOptions, UnknownPolicy } from '../tokenizers/tokenizer.js';
import type { FlagSpec, FlagValue } from './flags.js';

/** The two flags, their help naming the text they apply to ("the start text"). */
export function unknownCharacterFlags(text: string): FlagSpec[] {
  return [
    {
      name: 'unknown',
      type: 'string',
      choices: ['error', 'skip', 'replace'],
      help: `characters of ${text} outside the vocabulary`,
      defaultText: 'error',
    },
    {
      name: 'replacement',
      type: 'string',
      metavar: 'CHAR',
      help: 'with --unknown replace: the character that stands in',
      defaultText: 'a space',
    },
  ];
}

/** The tokenizer's options from the flags; `label` names the text in its errors. */
export function encodeOptionsFromFlags(flags: Map<string, FlagValue>, label: string): EncodeOptions {
  const unknown = ((flags.get('unknown') as string | undefined) ?? 'error') as UnknownPolicy;
  if (flags.has('replacement') && unknown !== 'replace') throw new TsgptError('--replacement only applies with --unknown replace');
  return { unknown, replacement: (flags.get('replacement') as string | undefined) ?? ' ', label };
}
