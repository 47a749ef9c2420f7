/** Reading the PyTorch reference fixtures (test/fixtures/*.safetensors, made by scripts/torch_parity.py). */
import { readFileSync } from 'node:fs';
import { decodeSafetensors, type SafetensorsTensor } from '../../src/io/safetensors.js';

export const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);

export interface Fixture {
  config: Record<string, unknown>;
  get(name: string): SafetensorsTensor;
  has(name: string): boolean;
  names(): string[];
}

export function loadFixture(file: string): Fixture {
  const { metadata, tensors } = decodeSafetensors(readFileSync(new URL(file, FIXTURES)), file);
  return {
    config: JSON.parse(metadata.config ?? '{}') as Record<string, unknown>,
    get(name) {
      const t = tensors.get(name);
      if (t === undefined) throw new Error(`${file} has no tensor ${name}`);
      return t;
    },
    has: (name) => tensors.has(name),
    names: () => [...tensors.keys()],
  };
}

/** The Tiny Shakespeare copy tests use, or null when this machine has none. */
export const SHAKESPEARE_PATH = new URL('../../../../shared/data/tinyshakespeare.txt', import.meta.url);
