#!/usr/bin/env node
/**
 * Compiles the AssemblyScript kernels in assembly/ into WebAssembly modules, plain SIMD and relaxed SIMD
 * (fused multiply-add through f32x4.relaxed_madd), each for a plain and for a shared memory (a module must
 * declare which kind it imports; threads need the shared one), and writes them base64-encoded into
 * src/engine/wasm/generated/kernels_wasm.ts, so the engine loads them with no file system (browsers too).
 *
 * The modules import the engine's arena memory (env.memory) and keep their static data inside the arena's
 * reserved first 64 KiB; this script checks that by instantiating each module and reading staticDataEnd().
 * The stub runtime keeps no shadow stack in memory (asc's stack size is 0 without a GC) and the kernels
 * allocate nothing, so static data is all the module puts there; scratch comes from the arena.
 * Runs offline: asc and binaryen come from node_modules (the assemblyscript devDependency).
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import asc from 'assemblyscript/asc';

// Node 20 validates relaxed SIMD only behind this flag (set before any module is compiled).
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'assembly', 'index.ts');
const outFile = join(root, 'src', 'engine', 'wasm', 'generated', 'kernels_wasm.ts');

// --if-stale (the quick test loop): nothing to do when the output is newer than every source and this script.
if (process.argv.includes('--if-stale')) {
  const mtime = (path) => statSync(path).mtimeMs;
  const sources = [fileURLToPath(import.meta.url), ...readdirSync(join(root, 'assembly')).map((f) => join(root, 'assembly', f))];
  let built = -1;
  try {
    built = mtime(outFile);
  } catch {
    // Never built: build now.
  }
  if (sources.every((f) => mtime(f) < built)) process.exit(0);
}

/** The arena never hands out its first 64 KiB (src/engine/arena.ts RESERVED_BYTES): our static data goes there. */
const RESERVED_BYTES = 65536;
/** Where static data starts: above 0 so a null pointer (0) never aliases a constant. */
const MEMORY_BASE = 1024;

const common = [
  entry,
  '--importMemory',
  '--noExportMemory',
  '--initialMemory',
  '1',
  '--runtime',
  'stub',
  '--use',
  'abort=',
  '--memoryBase',
  String(MEMORY_BASE),
  '-O3',
  '--noAssert',
  '--converge',
];

/** Page count a shared memory must declare as its maximum: 4 GiB, at least the arena's own maximum. */
const MAX_PAGES = 65536;

async function compile(features, shared) {
  const outputs = new Map();
  const errors = [];
  const sharedArgs = shared ? ['--sharedMemory', '--maximumMemory', String(MAX_PAGES), '--enable', 'threads'] : [];
  const { error } = await asc.main([...common, ...sharedArgs, ...features.flatMap((f) => ['--enable', f]), '--outFile', 'kernels.wasm'], {
    writeFile: (name, contents) => void outputs.set(name, contents),
    stdout: { write: (s) => void process.stdout.write(String(s)) },
    stderr: { write: (s) => void errors.push(String(s)) },
  });
  if (error) {
    process.stderr.write(errors.join(''));
    throw new Error(`asc failed (${features.join(', ')}): ${error.message}`);
  }
  const binary = outputs.get('kernels.wasm');
  if (!(binary instanceof Uint8Array)) throw new Error('asc wrote no kernels.wasm');
  return binary;
}

/** Instantiates the module on a fresh one-page memory (no kernel runs) and checks its static data. */
async function check(binary, label, shared) {
  const module = await WebAssembly.compile(binary);
  const imports = WebAssembly.Module.imports(module);
  const unexpected = imports.filter((i) => !(i.module === 'env' && i.name === 'memory'));
  if (unexpected.length > 0) throw new Error(`${label}: unexpected imports ${JSON.stringify(unexpected)}`);
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65535, shared });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const end = instance.exports.staticDataEnd();
  if (end > RESERVED_BYTES) {
    throw new Error(`${label}: static data ends at ${end}, past the arena's reserved ${RESERVED_BYTES} bytes`);
  }
  if (memory.buffer.byteLength !== RESERVED_BYTES) throw new Error(`${label}: instantiation grew the memory`);
  return end;
}

const variants = [
  { name: 'KERNELS_WASM_SIMD', features: ['simd'], shared: false, what: 'WebAssembly SIMD, plain memory' },
  {
    name: 'KERNELS_WASM_RELAXED_SIMD',
    features: ['simd', 'relaxed-simd'],
    shared: false,
    what: 'relaxed SIMD too (f32x4.relaxed_madd), plain memory',
  },
  { name: 'KERNELS_WASM_SIMD_SHARED', features: ['simd'], shared: true, what: 'WebAssembly SIMD, shared memory' },
  { name: 'KERNELS_WASM_RELAXED_SIMD_SHARED', features: ['simd', 'relaxed-simd'], shared: true, what: 'relaxed SIMD too, shared memory' },
];
const b64 = (bytes) => Buffer.from(bytes).toString('base64');
let source = '// Generated by scripts/build-wasm.mjs from assembly/*.ts: do not edit, do not commit.\n';
const report = [];
for (const v of variants) {
  const binary = await compile(v.features, v.shared);
  const end = WebAssembly.validate(binary) ? await check(binary, v.name, v.shared) : null;
  report.push(`${v.name} ${binary.length} B${end === null ? ' (not validated by this engine)' : `, static data ${MEMORY_BASE}..${end}`}`);
  // Typed as string: left to inference, the declaration file would repeat the whole payload as a literal type.
  source += `/** The kernels compiled for ${v.what} (${binary.length} bytes), base64. */\nexport const ${v.name}: string =\n  '${b64(binary)}';\n`;
}
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, source);
console.log(`build-wasm: ${report.join('; ')}; all < ${RESERVED_BYTES}; wrote ${outFile.slice(root.length + 1)}`);
