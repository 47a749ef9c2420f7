/**
 * tsgpt serve: the playground on a local web server. It serves dist/browser/ (the page, the single-file build
 * and its workers) with the cross-origin isolation headers, so the page trains in a worker on every core,
 * and the default training text at /data/default.txt: --data's file, $TSGPT_DATA, or Tiny Shakespeare (read
 * from the cache, downloaded once on the first request). Runs until Ctrl-C.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TsgptError } from '../errors.js';
import { type Corpus, loadCorpus } from '../node/corpus.js';
import { coreCount } from '../node/kernel_threads.js';
import { type RouteResponse, startStaticServer } from '../node/static_server.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';
import { writeStdout } from './stdout.js';

/** Where the playground asks for its default text, and the header that says where the text came from. */
export const DEFAULT_TEXT_PATH = '/data/default.txt';
export const TEXT_SOURCE_HEADER = 'X-Tsgpt-Source';

const DEFAULT_PORT = 8080;

export const SERVE_FLAGS: FlagSpec[] = [
  { name: 'port', type: 'int', min: 0, max: 65535, help: 'port to listen on (0: any free port)', defaultText: String(DEFAULT_PORT) },
  {
    name: 'host',
    type: 'string',
    metavar: 'ADDR',
    help: 'address to listen on; pages from other machines are not cross-origin isolated over plain http',
    defaultText: '127.0.0.1 (this machine only)',
  },
  {
    name: 'data',
    type: 'string',
    metavar: 'PATH',
    help: 'UTF-8 text the page offers to train on',
    defaultText: '$TSGPT_DATA, else Tiny Shakespeare (downloaded once, cached)',
  },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const SERVE_HELP = `Usage: tsgpt serve [--port N] [--host ADDR] [--data PATH]

Serves the playground, a page that trains a model in your browser (in a worker, on every core), streams
samples from it, shows its attention maps, loads run folders trained by tsgpt train and saves its own as a
zip that tsgpt sample --from accepts. Open the address it prints. Ctrl-C stops it.

The page can be started from its address: ?preset=baby&max-iters=200&autostart=1 starts training at
once (any training option of tsgpt train works the same way, e.g. &n-layer=2&threads=2&simd=plain).

Options:
${formatFlagHelp(SERVE_FLAGS)}`;

/** dist/browser/, built by npm run build (scripts/build-browser.mjs). */
function siteFolder(): string {
  const folder = fileURLToPath(new URL('../../browser/', import.meta.url));
  if (!existsSync(`${folder}index.html`)) {
    throw new TsgptError(`the playground is not built (${folder}index.html is missing); run 'npm run build'`);
  }
  return folder;
}

export async function serveCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, SERVE_FLAGS, 'serve');
  const root = siteFolder();
  const path = flags.get('data') as string | undefined;
  // A file named with --data is read now, so a wrong path is an error before anything is served; the default
  // text may need a download, which waits for the first page that asks for it.
  let corpus: Promise<Corpus> | null = path === undefined ? null : Promise.resolve(await loadCorpus({ path }));
  const defaultText = async (): Promise<RouteResponse> => {
    corpus ??= loadCorpus({ path });
    try {
      const { text, source } = await corpus;
      return { body: text, type: 'text/plain; charset=utf-8', headers: { [TEXT_SOURCE_HEADER]: encodeURIComponent(source) } };
    } catch (e) {
      corpus = null; // a failed download may succeed next time
      if (!(e instanceof TsgptError)) throw e;
      process.stderr.write(`tsgpt: error: ${e.message}\n`);
      return { status: 503, body: `${e.message}\n`, type: 'text/plain; charset=utf-8' };
    }
  };
  const host = (flags.get('host') as string | undefined) ?? '127.0.0.1';
  const server = await startStaticServer({
    root,
    host,
    port: (flags.get('port') as number | undefined) ?? DEFAULT_PORT,
    routes: { [DEFAULT_TEXT_PATH]: defaultText },
  });
  writeStdout(
    `tsgpt playground at ${server.url} (cross-origin isolated: the page trains on all ${coreCount()} cores here); Ctrl-C stops\n`,
  );
  await new Promise<void>((done) => {
    const stop = () => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
