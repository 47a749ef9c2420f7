/**
 * Lets the event loop run between training steps, so signals, timers and I/O are handled during a long run.
 * setImmediate where it exists (Node); a MessageChannel round trip in a browser, which, unlike setTimeout(0),
 * is not clamped to 4 ms.
 */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  if (typeof g.setImmediate === 'function') return new Promise((resolve) => g.setImmediate!(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
