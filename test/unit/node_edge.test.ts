/**
 * The Node edge is a place in the tree: only files under src/node/ and src/cli/ may import Node's modules, and
 * the main entry (src/index.ts) must reach none of them, so that `tsgpt` bundles for a browser as it is.
 * The test reads the TypeScript sources, so it fails on the import itself, before anything is bundled.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));
const EDGES = ['node/', 'cli/'];
const NODE_BUILTINS = new Set(builtinModules);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'generated' ? [] : sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports, statically or dynamically. */
function specifiers(source: string): string[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\1/g)) found.push(m[2]!);
  return found;
}

const isNodeModule = (s: string) => s.startsWith('node:') || NODE_BUILTINS.has(s.split('/')[0]!);

test('only src/node/ and src/cli/ import Node modules', () => {
  const offenders: string[] = [];
  for (const file of sources(SRC)) {
    const rel = relative(SRC, file).replaceAll('\\', '/');
    if (EDGES.some((e) => rel.startsWith(e))) continue;
    for (const s of specifiers(readFileSync(file, 'utf8'))) if (isNodeModule(s)) offenders.push(`${rel} imports ${s}`);
  }
  assert.deepEqual(offenders, []);
});

test('the main entry reaches no file of the Node edge and no Node module', () => {
  const seen = new Set<string>();
  const path: string[] = [];
  const bad: string[] = [];
  const visit = (file: string, via: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    const rel = relative(SRC, file).replaceAll('\\', '/');
    if (EDGES.some((e) => rel.startsWith(e))) bad.push([...via, rel].join(' -> '));
    for (const s of specifiers(readFileSync(file, 'utf8'))) {
      if (isNodeModule(s)) bad.push([...via, rel, s].join(' -> '));
      else if (s.startsWith('.')) visit(resolve(dirname(file), s.replace(/\.js$/, '.ts')), [...via, rel]);
    }
  };
  visit(join(SRC, 'index.ts'), path);
  assert.ok(seen.size > 50, `the walk found only ${seen.size} files`);
  assert.deepEqual(bad, []);
});

test('the check catches an offender', () => {
  // The same scan over a made-up source: the test above would fail on such a file.
  const text =
    "import { readFileSync } from 'node:fs';\nimport x from \"os\";\nconst y = await import('node:path');\n// import 'node:v8'\nexport * from './ok.js';";
  assert.deepEqual(specifiers(text).filter(isNodeModule), ['node:fs', 'os', 'node:path']);
});
