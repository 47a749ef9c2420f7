/** Running the real tsgpt command in a child process, synchronously or with a handle to signal or kill it. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FaultSpec } from './faults.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const CLI_WITH_HOOKS = fileURLToPath(new URL('./tsgpt_with_hooks.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Variables added to the environment. */
  env?: Record<string, string>;
  /** Faults to install through the test entry script (tsgpt_with_hooks.ts) instead of running plain tsgpt. */
  faults?: FaultSpec;
}

/** The environment every test run gets: no corpus from the user's shell, and a cache no test may download into. */
export function cliEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, TSGPT_CACHE: join(dir, 'cache'), TSGPT_DATA: '', ...extra };
}

/** node's arguments for tsgpt with `args`, through the hooks entry when faults are given. */
export function cliArgv(args: readonly string[], faults?: FaultSpec): string[] {
  return faults === undefined ? [CLI, ...args] : [CLI_WITH_HOOKS, JSON.stringify(faults), ...args];
}

export function runCli(dir: string, args: readonly string[], options: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, cliArgv(args, options.faults), {
    encoding: 'utf8',
    env: cliEnv(dir, options.env),
    cwd: dir,
    timeout: 120_000,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `tsgpt ...args` in `cwd`, with no way to fall back to downloading Tiny Shakespeare. */
export function tsgptIn(cwd: string, ...args: string[]): CliResult {
  return runCli(cwd, args);
}

/** One line on stderr, starting "tsgpt: error:" and matching `pattern`, a non-zero exit, and no stack trace. */
export function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^tsgpt: error: /);
  assert.match(lines[0]!, pattern);
}

/** A running tsgpt: its stderr so far, a way to wait for a line on it, and its result once it exits. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly done: Promise<CliResult>;
  private waiters: { pattern: RegExp; resolve: () => void }[] = [];

  constructor(dir: string, args: readonly string[], options: CliOptions = {}) {
    this.child = spawn(process.execPath, cliArgv(args, options.faults), {
      env: cliEnv(dir, options.env),
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => void (this.stdout += s));
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
      this.waiters = this.waiters.filter((w) => {
        if (!w.pattern.test(this.stderr)) return true;
        w.resolve();
        return false;
      });
    });
    this.done = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        for (const w of this.waiters) w.resolve();
        this.waiters = [];
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Resolves once stderr matches `pattern` (or the process has ended, whichever is first). */
  waitFor(pattern: RegExp): Promise<void> {
    if (pattern.test(this.stderr) || this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ pattern, resolve }));
  }
}
