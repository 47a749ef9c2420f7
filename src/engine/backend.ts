/**
 * The kernels every op computes through: the functions of the kernel table (kernel_table.ts), from one backend
 * at a time. Ops, modules and models call a kernel only through `kernels()`; a backend implements the table
 * and nothing else. The reference backend is the plain TypeScript of ./kernels/, gathered here by the table's
 * names: a kernel added to the table and to ./kernels/ needs no edit in this file.
 */
import { KERNEL_NAMES, type KernelFunctions } from './kernel_table.js';
import * as reference from './kernels/index.js';

export interface Kernels extends KernelFunctions {
  readonly name: string;
  /** Threads the kernels compute on, the calling one included. */
  readonly threads: number;
  /** Stops any helper threads (a backend without them need not have this). */
  dispose?(): void;
  /**
   * Helper threads that have started and are serving calls (not counting the calling thread); a helper that
   * never starts (its script failed to load) is simply not counted, and the caller computes its share.
   */
  helpersRunning?(): number;
}

// Compile-time check that every reference kernel has its row's signature.
const referenceFunctions: KernelFunctions = reference;

/** Plain TypeScript kernels: the reference every faster backend is tested against. */
export const referenceKernels: Kernels = {
  name: 'reference',
  threads: 1,
  ...(Object.fromEntries(KERNEL_NAMES.map((name) => [name, referenceFunctions[name]])) as KernelFunctions),
};

let active: Kernels = referenceKernels;

/** The kernels every op uses now. */
export function kernels(): Kernels {
  return active;
}

/** Switches every op to another backend (tests compare backends op by op through this). */
export function setKernels(k: Kernels): void {
  active = k;
}
