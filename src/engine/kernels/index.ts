/**
 * The reference kernels: plain TypeScript over typed arrays, one function per row of the kernel table
 * (../kernel_table.ts), in files named as their AssemblyScript twins in assembly/. Every faster backend is
 * tested against these.
 */
export * from './activations.js';
export * from './adamw.js';
export * from './attention.js';
export * from './cross_entropy.js';
export * from './dropout.js';
export * from './elementwise.js';
export * from './embedding.js';
export * from './layernorm.js';
export * from './matmul.js';
export * from './rmsnorm.js';
export * from './rotary.js';
export * from './search.js';
export * from './softmax.js';
