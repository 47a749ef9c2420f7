/**
 * A small HTTP server for one folder of static files (the playground and the browser build), sent with the
 * headers that make a page cross-origin isolated, so that it may share memory with workers and train on every
 * core: Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp. GET and HEAD
 * only; a path never leaves the folder; a few extra routes (the training text) are answered by functions.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { TsgptError } from '../errors.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.zip': 'application/zip',
  '.safetensors': 'application/octet-stream',
};

/** What a route answers: a body and its type, and any headers of its own. */
export interface RouteResponse {
  status?: number;
  body: string | Uint8Array;
  type: string;
  headers?: Record<string, string>;
}

export interface StaticServerOptions {
  /** The folder to serve; '/' is its index.html. */
  root: string;
  /** Default 127.0.0.1: only this machine. */
  host?: string;
  /** 0 (the default) takes any free port. */
  port?: number;
  /** Send the cross-origin isolation headers (default true). */
  isolated?: boolean;
  /** Let pages of other origins load these files, as a CDN does (CORS and a cross-origin resource policy). */
  crossOrigin?: boolean;
  /** Extra paths answered by a function instead of a file. */
  routes?: Record<string, () => Promise<RouteResponse>>;
}

export interface StaticServer {
  /** http://host:port/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The headers every response carries. */
function baseHeaders(options: StaticServerOptions): Record<string, string> {
  const headers: Record<string, string> = { 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' };
  if (options.isolated !== false) {
    headers['Cross-Origin-Opener-Policy'] = 'same-origin';
    headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
  }
  if (options.crossOrigin === true) {
    headers['Access-Control-Allow-Origin'] = '*';
    headers['Cross-Origin-Resource-Policy'] = 'cross-origin';
  } else headers['Cross-Origin-Resource-Policy'] = 'same-origin';
  return headers;
}

/** Starts serving; rejects with a TsgptError when the address cannot be had (a port in use, say). */
export async function startStaticServer(options: StaticServerOptions): Promise<StaticServer> {
  const root = resolve(options.root);
  const headers = baseHeaders(options);
  const server = createServer((req, res) => {
    answer(req, res, root, headers, options.routes ?? {}).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `server error: ${(e as Error).message}\n`, headers, req.method);
      else res.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await listen(server, host, options.port ?? 0);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE')
        fail(new TsgptError(`port ${port} on ${host} is in use; choose another with --port N (0: any free port)`));
      else if (e.code === 'EACCES') fail(new TsgptError(`no permission to listen on port ${port} of ${host}; choose a port above 1023`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND')
        fail(new TsgptError(`cannot listen on ${host}: not an address of this machine`));
      else fail(e);
    });
    server.listen(port, host, () => done());
  });
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  headers: Record<string, string>,
  routes: Record<string, () => Promise<RouteResponse>>,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n', { ...headers, Allow: 'GET, HEAD' }, method);
    return;
  }
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    send(res, 400, 'text/plain; charset=utf-8', 'bad path\n', headers, method);
    return;
  }
  const route = routes[path];
  if (route !== undefined) {
    const r = await route();
    send(res, r.status ?? 200, r.type, r.body, { ...headers, ...r.headers }, method);
    return;
  }
  const file = fileFor(root, path);
  const body = file === null ? null : await readIfFile(file);
  if (body === null) {
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n', headers, method);
    return;
  }
  send(res, 200, CONTENT_TYPES[extname(file!)] ?? 'application/octet-stream', body, headers, method);
}

/** The file a path names inside root ('/' and folders: their index.html), or null for a path that would leave it. */
export function fileFor(root: string, path: string): string | null {
  if (path.includes('\0') || path.includes('\\') || path.split('/').some((part) => part === '..' || part.startsWith('.'))) {
    return null;
  }
  const file = resolve(join(root, path.endsWith('/') ? `${path}index.html` : path));
  return file === root || file.startsWith(root + sep) ? file : null;
}

async function readIfFile(file: string): Promise<Uint8Array | null> {
  try {
    if (!(await stat(file)).isFile()) return null;
    return await readFile(file);
  } catch {
    return null;
  }
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Uint8Array,
  headers: Record<string, string>,
  method: string | undefined,
): void {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': String(bytes.length) });
  res.end(method === 'HEAD' ? undefined : bytes);
}
