/**
 * The WebAssembly SIMD backend: every row of the kernel table (../kernel_table.ts) runs the export of the
 * same name of the module built from assembly/ (./kernel_module.ts), instantiated against the arena's memory
 * so kernels read and write tensors in place. This file is plumbing derived from the table, with nothing
 * written per kernel: arguments become numbers by their roles (./bridge.ts), and a call splits across threads
 * as its row says (./thread_team.ts). Nothing here needs Node: it loads in a browser too (use the async factory
 * there; synchronous compilation is for Node and workers).
 *
 * How an AssemblyScript twin is called: with the row's arguments in order. A twin that needs scratch memory
 * also exports `<name>Scratch`, which gets the same arguments plus the split way (-1: not split) and returns
 * the bytes it needs; the twin then gets three more: a block of that many bytes of its thread's own, the way,
 * and 1 on the first chunk its thread takes in this call (0 on later ones: what every chunk of the call shares,
 * such as a product's other operand, is prepared once per thread and call).
 *
 * Scratch blocks come from the arena and are kept between calls (one per thread, grown when a call needs more).
 */
import { type Arena, defaultArena } from '../arena.js';
import type { Kernels } from '../backend.js';
import { type Arg, KERNEL_NAMES, KERNEL_TABLE, type KernelName, type KernelSpec, type Move, type NamedArgs } from '../kernel_table.js';
import { TsgptError } from '../../errors.js';
import { Bridge, Scratch } from './bridge.js';
import { kernelModuleBytes, type WasmVariant } from './kernel_module.js';
import {
  CONTROL_BYTES,
  COUNTER_BYTES,
  chunkCuts,
  counterSlots,
  type SpawnKernelWorker,
  THREADED_KERNELS,
  ThreadTeam,
} from './thread_team.js';

export { wasmSimdSupported } from './kernel_module.js';

/**
 * Why a shared memory may be missing, for the message: browsers give one only to a cross-origin isolated page
 * (and its workers), which takes two response headers.
 */
export const SHARED_MEMORY_HINT =
  'which a browser gives only to a cross-origin isolated page: serve it with the headers ' +
  "'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp'";

type Numbers<A extends readonly Arg[]> = { -readonly [I in keyof A]: number };
type ArgsOf<K extends KernelName> = (typeof KERNEL_TABLE)[K] extends KernelSpec<infer A> ? A : never;

/** The module's exports, typed from the table: the row's arguments as numbers, then any scratch arguments. */
export type WasmExports = { [K in KernelName]: (...args: [...Numbers<ArgsOf<K>>, ...number[]]) => number | undefined } & {
  [K in `${KernelName}Scratch`]?: (...args: number[]) => number;
};

export interface WasmKernelOptions {
  /**
   * Use the relaxed-SIMD build (fused multiply-add) when this engine validates it: true (the default) or false.
   * Node 20 validates it only after enableRelaxedSimd() (src/cli/wasm_flags.ts) or --experimental-wasm-relaxed-simd.
   */
  relaxed?: boolean;
  /**
   * Threads to compute on, the calling one included (default 1). More than 1 needs a shared arena
   * (Arena.shared) and `spawnWorker`, which starts a helper thread (src/node/kernel_threads.ts for Node).
   * Results are the same bit for bit whatever the count: threads split work only where each output value is
   * computed whole by one thread.
   */
  threads?: number;
  spawnWorker?: SpawnKernelWorker;
}

/** Which build createWasmKernels would pick: 'relaxed-simd' when allowed and validated, else 'simd'. */
export function wasmVariant(options: WasmKernelOptions = {}): WasmVariant {
  return kernelModuleBytes(options.relaxed !== false, false).variant;
}

/** The WebAssembly SIMD kernels over `arena`'s memory (compiled asynchronously: works on a browser's main thread). */
export async function createWasmKernels(arena: Arena = defaultArena, options: WasmKernelOptions = {}): Promise<Kernels> {
  const module = await WebAssembly.compile(kernelModuleBytes(options.relaxed !== false, arena.shared).bytes);
  const instance = await WebAssembly.instantiate(module, { env: { memory: arena.memory } });
  return bindTable(instance.exports as unknown as WasmExports, arena, makeTeam(module, arena, options));
}

/**
 * The same, compiled synchronously: fine in Node and in workers; browsers refuse synchronous compilation of
 * modules this size on the main thread.
 */
export function createWasmKernelsSync(arena: Arena = defaultArena, options: WasmKernelOptions = {}): Kernels {
  const module = new WebAssembly.Module(kernelModuleBytes(options.relaxed !== false, arena.shared).bytes);
  const instance = new WebAssembly.Instance(module, { env: { memory: arena.memory } });
  return bindTable(instance.exports as unknown as WasmExports, arena, makeTeam(module, arena, options));
}

function makeTeam(module: WebAssembly.Module, arena: Arena, options: WasmKernelOptions): ThreadTeam | null {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a whole number of at least 1, got ${threads}`);
  if (threads === 1) return null;
  if (!arena.shared) throw new TsgptError(`more than one thread needs a shared memory (SharedArrayBuffer), ${SHARED_MEMORY_HINT}`);
  if (options.spawnWorker === undefined) throw new Error('more than one thread needs a spawnWorker function');
  const controls = Array.from({ length: threads - 1 }, () => arena.alloc(CONTROL_BYTES));
  const counters = arena.alloc(counterSlots(threads - 1) * COUNTER_BYTES);
  return new ThreadTeam(module, arena.memory, controls, counters, options.spawnWorker);
}

/** What binding one kernel needs from the backend as a whole. */
interface Backend {
  arena: Arena;
  bridge: Bridge;
  team: ThreadTeam | null;
  threads: number;
  /** Each thread's scratch block, shared by all kernels (a thread runs one kernel at a time). */
  scratch: Scratch[];
}

function bindTable(ex: WasmExports, arena: Arena, team: ThreadTeam | null): Kernels {
  const threads = 1 + (team?.helpers ?? 0);
  const backend: Backend = {
    arena,
    bridge: new Bridge(arena),
    team,
    threads,
    scratch: Array.from({ length: threads }, () => new Scratch(arena)),
  };
  const bound: Record<string, unknown> = {
    name: 'wasm-simd',
    threads,
    dispose: () => team?.dispose(),
    helpersRunning: () => team?.running ?? 0,
  };
  for (const name of KERNEL_NAMES) bound[name] = bindKernel(name, ex, backend);
  return bound as unknown as Kernels;
}

type Exported = (...args: number[]) => number | undefined;

/** One way of a row's split, resolved to argument positions. */
interface Way {
  over: number;
  align: number;
  when: ((a: NamedArgs) => boolean) | undefined;
  /** Per argument, its move per unit (a constant or other arguments' values), or null if it stays. */
  moves: (Move<string> | null)[];
  views: boolean[];
}

function bindKernel(name: KernelName, ex: WasmExports, backend: Backend): (...args: unknown[]) => unknown {
  const spec = KERNEL_TABLE[name] as KernelSpec;
  const fn = ex[name] as unknown as Exported | undefined;
  if (typeof fn !== 'function') throw new Error(`the kernel module has no export ${name}`);
  const scratchBytes = (ex[`${name}Scratch`] as Exported | undefined) ?? null;
  const roles = spec.args.map(([, role]) => role);
  const names = spec.args.map(([argName]) => argName);
  const { bridge, team, threads, scratch } = backend;

  const unsplit = (p: number[]): number | undefined => {
    if (scratchBytes === null) return fn(...p);
    const block = scratch[0]!.get(scratchBytes(...p, -1)!);
    return fn(...p, block, -1, 1);
  };
  if (spec.split === undefined || team === null) return (...args) => bridge.run(args, roles, unsplit);

  const split = spec.split;
  const index = (argName: string) => names.indexOf(argName);
  const ways: Way[] = split.ways.map((w) => ({
    over: index(w.over),
    align: w.align,
    when: w.when as Way['when'],
    moves: names.map((n) => (w.moves as Record<string, Move<string>>)[n] ?? null),
    views: roles.map((r) => r !== 'int' && r !== 'float' && r !== 'bool'),
  }));
  const kernelIndex = THREADED_KERNELS.indexOf(name);
  // The arguments by name, for the row's `worth`, `when` and moves: getters over the call's numbers. Filling an
  // object with every argument on every call made a sampling step with a thread team 20% slower than without
  // one (a token's ~60 calls, none of them split); a getter costs only the names a row reads.
  let current: readonly number[] = [];
  const named = {} as Record<string, number>;
  names.forEach((n, i) => Object.defineProperty(named, n, { get: () => current[i]!, enumerable: true }));
  return (...args) =>
    bridge.run(args, roles, (p) => {
      current = p;
      const way = split.worth(named) ? ways.findIndex((w) => w.when === undefined || w.when(named)) : -1;
      if (way < 0) return unsplit(p);
      const w = ways[way]!;
      // Bytes (a view) or units (a number) each argument moves per unit; a null view stays at 0.
      const deltas = w.moves.map((m, i) => {
        if (m === null || (w.views[i] && p[i] === 0)) return 0;
        const units = typeof m === 'number' ? m : typeof m === 'string' ? named[m]! : m.reduce((x, n) => x * named[n]!, 1);
        return w.views[i] ? units * 4 : units;
      });
      // Every thread's scratch is taken before the call starts: taking it may grow the memory.
      const blocks = scratchBytes === null ? null : scratch.map((s) => s.get(scratchBytes(...p, way)!));
      const extra = blocks === null ? 0 : 3;
      team.run(
        {
          kernel: kernelIndex,
          args: blocks === null ? () => p : (t) => [...p, blocks[t]!, way, 1],
          deltas: extra === 0 ? deltas : [...deltas, 0, 0, 0],
          sizeIndex: w.over,
          firstIndex: extra === 0 ? -1 : p.length + 2,
          cuts: chunkCuts(p[w.over]!, w.align, threads),
        },
        fn,
      );
      return undefined;
    });
}
