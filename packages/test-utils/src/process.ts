import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every stdout and stderr line so far. */
  readonly lines: string[];
  /** Resolves with the first line (past or future) matching `re`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts a process whose output the test can wait on. Processes left running are killed when
 * the test process exits.
 */
export function startProcess(cmd: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve(m: RegExpMatchArray): void }[] = [];
  const onLine = (line: string): void => {
    lines.push(line);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const m = line.match(waiters[i]!.re);
      if (m) waiters.splice(i, 1)[0]!.resolve(m);
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<number | string>((resolve) => {
    // 'close', not 'exit': it comes after the output streams end, so every line has been read.
    child.on('close', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? -1);
    });
  });
  return {
    child,
    pid: child.pid!,
    lines,
    exited,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    waitForLine(re, timeoutMs = 20_000) {
      for (const l of lines) {
        const m = l.match(re);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no line matching ${re} in ${timeoutMs} ms; output:\n${lines.join('\n')}`)), timeoutMs);
        const done = (m: RegExpMatchArray): void => {
          clearTimeout(t);
          resolve(m);
        };
        waiters.push({ re, resolve: done });
        void exited.then((code) => {
          clearTimeout(t);
          reject(new Error(`process exited (${code}) before a line matching ${re}; output:\n${lines.join('\n')}`));
        });
      });
    },
  };
}

/**
 * True while the process `pid` runs: it exists and is not a zombie (a process that exited and
 * whose parent has not reaped it yet counts as gone). Linux only: it reads /proc.
 */
export function processRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  return stateOf(stat) !== 'Z';
}

/**
 * True once every thread of `pid` is stopped (SIGSTOP delivered): `kill()` returns before that,
 * and a thread still running may yet answer what it was sent after. Linux only: it reads /proc.
 */
export function processStopped(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((t) => stateOf(readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8')) === 'T');
  } catch {
    return false;
  }
}

/** The state letter of a /proc stat line. */
function stateOf(stat: string): string {
  // The state follows the command name, which is in parentheses and may itself hold spaces.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});
