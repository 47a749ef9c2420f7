/**
 * The loss curve of a run folder, read from its log.jsonl: as an SVG beside the log (loss.svg, which training
 * redraws after every evaluation) or as a few lines of text for the terminal.
 */
import { basename, join, resolve } from 'node:path';
import { TsgptError } from '../errors.js';
import { lossCurveSvg } from '../viz/loss_curve.js';
import { parseLossLog, type LossLog } from '../viz/loss_log.js';
import { terminalLossCurve } from '../viz/terminal_curve.js';
import { writeTextFile } from './atomic_write.js';
import { isFolder } from './make_folder.js';
import { LOG_FILE } from './run_folder.js';
import { readLogText } from './run_log.js';

export const LOSS_CURVE_FILE = 'loss.svg';

/** Reads and parses runDir/log.jsonl; a missing folder or log, or one that is not a regular file, is a one-line TsgptError. */
export function readLossLog(runDir: string): LossLog {
  if (!isFolder(runDir)) throw new TsgptError(`no run folder at ${runDir}`);
  const path = join(runDir, LOG_FILE);
  const text = readLogText(path);
  if (text === null) throw new TsgptError(`${runDir} has no ${LOG_FILE}; is it a folder written by 'tsgpt train'?`);
  return parseLossLog(text, path);
}

/**
 * Writes runDir/loss.svg from runDir/log.jsonl and returns its path. Safe to call while training appends to
 * the log (a torn last line is skipped) and atomic, so a viewer never shows half a picture.
 */
export function writeLossCurve(runDir: string): string {
  const out = join(runDir, LOSS_CURVE_FILE);
  writeTextFile(out, lossCurveSvg([{ name: basename(resolve(runDir)), log: readLossLog(runDir) }]));
  return out;
}

/** The run's loss curve as a few lines of text (no trailing newline), for the end of training. */
export function lossCurveForTerminal(runDir: string, width?: number): string {
  return terminalLossCurve(readLossLog(runDir), { width });
}
