#!/usr/bin/env node
/**
 * Builds dist/browser/, tsgpt for browsers, with esbuild:
 *
 *   tsgpt.js          the main entry in one ES module (what a page imports, from the package or a CDN)
 *   kernel_worker.js  the kernels' helper threads: serveKernels alone, a few kilobytes, no arena
 *   train_worker.js   TrainingWorker's worker: imports ./tsgpt.js, so nothing is loaded twice
 *   index.html, playground.js, playground.css   the playground page (playground/), which imports ./tsgpt.js
 *
 * Every script is minified and has no source map (the package ships no sources for one to point at). Reads
 * the TypeScript sources directly; run after the WebAssembly kernels are built (they are imported as base64).
 */
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'browser');
const mainEntry = join(root, 'src', 'index.ts');

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  // The sources import './x.js' for './x.ts' (TypeScript's NodeNext convention); esbuild maps them.
};

/** Imports of the main entry become imports of the single-file build beside the importer. */
const mainEntryIsBundle = {
  name: 'main-entry-is-tsgpt.js',
  setup(b) {
    b.onResolve({ filter: /index\.js$/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const target = resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'));
      return target === mainEntry ? { path: './tsgpt.js', external: true } : undefined;
    });
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({ ...common, entryPoints: { tsgpt: mainEntry }, outdir: out });
await build({ ...common, entryPoints: { kernel_worker: join(root, 'src', 'browser', 'kernel_worker.ts') }, outdir: out });
await build({
  ...common,
  entryPoints: { train_worker: join(root, 'src', 'browser', 'train_worker.ts'), playground: join(root, 'playground', 'main.ts') },
  outdir: out,
  plugins: [mainEntryIsBundle],
});
for (const file of ['index.html', 'playground.css']) copyFileSync(join(root, 'playground', file), join(out, file));

const sizes = ['tsgpt.js', 'kernel_worker.js', 'train_worker.js', 'playground.js'].map(
  (f) => `${f} ${(statSync(join(out, f)).size / 1024).toFixed(1)} kB`,
);
console.log(`build-browser: ${sizes.join(', ')}; wrote dist/browser/`);
