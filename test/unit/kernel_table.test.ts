/**
 * The kernel table is the one declaration every backend follows: each row has a reference function of the
 * same name and arity, an AssemblyScript twin exported by the module, both in files of the same name, and a
 * split that names real arguments.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { referenceKernels } from '../../src/engine/backend.js';
import { KERNEL_NAMES, KERNEL_TABLE, type KernelSpec } from '../../src/engine/kernel_table.js';
import * as reference from '../../src/engine/kernels/index.js';
import { createWasmKernelsSync } from '../../src/engine/wasm/wasm_kernels.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** AssemblyScript files that hold helpers, not kernels. */
const HELPERS = new Set(['index', 'simd', 'gemm']);

/** kernel name -> the file (without extension) that exports it, for every exported function of a folder. */
function exportedFunctions(folder: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of readdirSync(join(ROOT, folder))) {
    const base = file.replace(/\.ts$/, '');
    if (!file.endsWith('.ts') || HELPERS.has(base)) continue;
    const text = readFileSync(join(ROOT, folder, file), 'utf8');
    for (const m of text.matchAll(/^export function (\w+)/gm)) found.set(m[1]!, base);
  }
  return found;
}

const spec = (name: string) => KERNEL_TABLE[name as keyof typeof KERNEL_TABLE] as KernelSpec;

test('every row has a reference kernel and an AssemblyScript twin, in files of the same name', () => {
  const ref = exportedFunctions('src/engine/kernels');
  const twins = exportedFunctions('assembly');
  for (const name of KERNEL_NAMES) {
    assert.ok(ref.has(name), `no reference kernel ${name} in src/engine/kernels/`);
    assert.ok(twins.has(name), `no AssemblyScript twin ${name} in assembly/`);
    assert.equal(twins.get(name), ref.get(name), `${name}: reference in ${ref.get(name)}.ts, twin in ${twins.get(name)}.ts`);
  }
  // Nothing beside the table: a kernel file exports kernels (and, in assembly/, their scratch sizes) only.
  const rows = new Set<string>(KERNEL_NAMES);
  assert.deepEqual(
    [...ref.keys()].filter((n) => !rows.has(n)),
    [],
  );
  assert.deepEqual(
    [...twins.keys()].filter((n) => !rows.has(n) && !rows.has(n.replace(/Scratch$/, ''))),
    [],
  );
});

test('reference kernels take exactly the arguments their rows declare', () => {
  const functions = reference as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of KERNEL_NAMES) {
    assert.equal(functions[name]!.length, spec(name).args.length, `${name}'s parameters`);
    assert.equal(referenceKernels[name], functions[name]);
  }
});

test('the WebAssembly module exports the table: every row, scratch sizes for some, nothing else', () => {
  const wasm = createWasmKernelsSync();
  for (const name of KERNEL_NAMES) assert.equal(typeof wasm[name], 'function', name);
  const source = readFileSync(join(ROOT, 'src/engine/wasm/generated/kernels_wasm.ts'), 'utf8');
  const base64 = /export const KERNELS_WASM_SIMD(?:: string)? =\s*'([^']+)'/.exec(source)![1]!;
  const exports = WebAssembly.Module.exports(new WebAssembly.Module(Buffer.from(base64, 'base64'))).map((e) => e.name);
  const rows = new Set<string>(KERNEL_NAMES);
  const extra = exports.filter((n) => !rows.has(n) && !rows.has(n.replace(/Scratch$/, '')) && n !== 'staticDataEnd');
  assert.deepEqual(extra, []);
  assert.deepEqual(
    KERNEL_NAMES.filter((n) => !exports.includes(n)),
    [],
  );
});

test('splits cut along a count and move only declared arguments', () => {
  for (const name of KERNEL_NAMES) {
    const { args, split } = spec(name);
    if (split === undefined) continue;
    const roles = new Map(args.map(([n, r]) => [n, r]));
    assert.ok(split.ways.length > 0, name);
    for (const way of split.ways) {
      assert.equal(roles.get(way.over), 'int', `${name}: splits along ${way.over}, which is not a count`);
      assert.ok(Number.isInteger(way.align) && way.align >= 1, `${name}: align ${way.align}`);
      for (const [moved, by] of Object.entries(way.moves)) {
        const role = roles.get(moved);
        assert.ok(role !== undefined && role !== 'float' && role !== 'bool', `${name}: moves ${moved}`);
        for (const n of typeof by === 'number' ? [] : typeof by === 'string' ? [by] : (by as string[])) {
          assert.equal(roles.get(n), 'int', `${name}: ${moved} moves by ${n}, which is not a count`);
        }
      }
    }
  }
});
