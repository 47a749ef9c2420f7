/**
 * The main entry's typings are a browser's: a page's TypeScript that uses the browser kit compiles with the DOM
 * library and no @types/node (types: []), the library's own declaration files checked too (no skipLibCheck).
 * Spawns the TypeScript compiler, as a page's build would.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-typings-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ENTRY = fileURLToPath(new URL('../../src/index.js', import.meta.url));
const TSC = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));

test("a page's use of the browser kit type-checks with the DOM library and without @types/node", () => {
  writeFileSync(
    join(dir, 'page.ts'),
    `import { createBrowserKernels, loadRunFolder, PRESETS, TrainingWorker, type ThreadReport } from ${JSON.stringify(ENTRY)};

export async function page(files: FileList, text: string): Promise<[ThreadReport, number, Uint8Array]> {
  const kernels = await createBrowserKernels({ threads: 'auto' });
  kernels.kernels.dispose?.();
  const worker = await TrainingWorker.start({ threads: kernels.threads, relaxed: false });
  await worker.train(text, { ...PRESETS.baby, maxIters: 10 }, { onStep: (s) => console.log(s.loss) });
  const zip = await worker.saveRun('run');
  const run = await loadRunFolder(new Blob([zip]));
  await loadRunFolder(files);
  return [worker.threads, run.file.training.step, zip];
}
`,
  );
  const compilerOptions = {
    noEmit: true,
    strict: true,
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    lib: ['es2022', 'dom'],
    types: [],
    skipLibCheck: false,
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['page.ts'] }));
  const r = spawnSync(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `tsc:\n${r.stdout}${r.stderr}`);
});
