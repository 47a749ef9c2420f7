/**
 * Starting a module worker from a script URL, wherever the script is served from. A page may start a worker
 * only from its own origin; when tsgpt's files come from elsewhere (a CDN), the worker is started from a
 * one-line module of the page's own (a blob: URL) that imports the script, which browsers allow when the
 * script's server sends CORS headers (CDNs do; a cross-origin isolated page needs them anyway).
 */

/** A dedicated module worker running the module at `url`; `name` shows in the browser's developer tools. */
export function startModuleWorker(url: string | URL, name: string): Worker {
  const href = new URL(url, globalThis.location?.href).href;
  const origin = globalThis.location?.origin;
  if (origin === undefined || new URL(href).origin === origin) return new Worker(href, { type: 'module', name });
  const shim = URL.createObjectURL(new Blob([`import ${JSON.stringify(href)};\n`], { type: 'text/javascript' }));
  try {
    return new Worker(shim, { type: 'module', name });
  } finally {
    // The constructor resolves a blob: URL when it parses it, so the worker keeps its script after this.
    URL.revokeObjectURL(shim);
  }
}

/** What a worker's 'error' event says: a script that failed to load gives a bare Event with no message. */
export function describeWorkerError(event: Event): string {
  const message = (event as ErrorEvent).message;
  return typeof message === 'string' && message !== '' ? message : 'the script could not be loaded or failed to start';
}
