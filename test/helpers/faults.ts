/**
 * Faults a test installs in a training run through TrainingRun's hooks (the seam the tests own; the tsgpt
 * command sets no hooks and reads no test variables). In-process tests pass hooksFor(spec) to TrainingRun;
 * tests that need a real process to kill run test/helpers/tsgpt_with_hooks.js with the spec as JSON.
 *
 * An injected write failure is an Error shaped like Node's own (a `code` such as ENOSPC and a `syscall`),
 * thrown just before the write it names, so it takes the path a real failure of that write takes. It is
 * injected, not real: a real full disk is tried in disk_full.test.ts where the machine allows a tmpfs.
 */
import type { RunWrite } from '../../src/node/run_folder.js';
import type { TrainingRunHooks } from '../../src/node/training_run.js';

export interface FaultSpec {
  /** Blocks this long between the stages of every save, widening the windows a kill can land in. */
  savePauseMs?: number;
  /** Makes the first value of this parameter's gradient NaN at this step. */
  nanGradient?: { step: number; parameter: string };
  /** Fails the nth write of this kind (1 for the first) with this error code (ENOSPC unless given). */
  failWrite?: { what: RunWrite; nth?: number; code?: string };
}

/** An error as Node's file functions throw it, e.g. injectedFsError('ENOSPC'). */
export function injectedFsError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected by a test, write`), { code, syscall: 'write' });
}

export function hooksFor(spec: FaultSpec): TrainingRunHooks {
  const hooks: TrainingRunHooks = {};
  if (spec.savePauseMs !== undefined && spec.savePauseMs > 0) {
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const ms = spec.savePauseMs;
    hooks.pause = () => void Atomics.wait(cell, 0, 0, ms);
  }
  const nan = spec.nanGradient;
  if (nan !== undefined) {
    hooks.afterBackward = (trainer, step) => {
      if (step !== nan.step) return;
      const param = trainer.model.namedParameters().find(([name]) => name === nan.parameter)?.[1];
      if (param === undefined) throw new Error(`the fault names no parameter of this model: ${nan.parameter}`);
      param.grad!.data[0] = NaN;
    };
  }
  const fail = spec.failWrite;
  if (fail !== undefined) {
    let seen = 0;
    hooks.beforeWrite = (what) => {
      if (what === fail.what && ++seen === (fail.nth ?? 1)) throw injectedFsError(fail.code ?? 'ENOSPC');
    };
  }
  return hooks;
}
