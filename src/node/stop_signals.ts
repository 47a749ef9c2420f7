/**
 * Ctrl-C and SIGTERM during training. The first one asks the run to stop after the current step (it then
 * saves and exits); the listeners are removed at once, so a second signal gets the default action and ends
 * the process even in the middle of a long step: safe, because every file of a checkpoint appears by an atomic
 * rename.
 */
export class StopSignals {
  private readonly handler = (signal: NodeJS.Signals) => {
    this.dispose();
    this.onSignal(signal);
  };

  constructor(private readonly onSignal: (signal: NodeJS.Signals) => void) {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  dispose(): void {
    process.removeListener('SIGINT', this.handler);
    process.removeListener('SIGTERM', this.handler);
  }
}

/** 128 + the signal number, as a shell reports a process the signal ended: scripts see the run did not finish. */
export function exitStatusFor(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}
