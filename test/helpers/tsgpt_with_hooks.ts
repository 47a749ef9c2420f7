/**
 * The real tsgpt command with test hooks installed, for tests that need a process to signal or kill:
 *
 *   node tsgpt_with_hooks.js '{"savePauseMs": 40}' train --data ... --out ...
 *
 * The first argument is a FaultSpec (faults.ts) as JSON; the rest are tsgpt's arguments, run exactly as
 * src/cli/main.ts runs them.
 */
import { runTsgpt } from '../../src/cli/tsgpt.js';
import { type FaultSpec, hooksFor } from './faults.js';

const [spec, ...args] = process.argv.slice(2);
// `node --test dist/test/` runs every file under test/, this one too, without arguments: then it does nothing.
if (spec !== undefined) runTsgpt(args, { trainingHooks: hooksFor(JSON.parse(spec) as FaultSpec) });
