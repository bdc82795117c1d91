import { spawnChild } from './child-lines.js';

/**
 * Runs a benchmark client in its own process to the end: `onMark('start' | 'end')` at the
 * measuring window's edges; resolves with its RESULT (and pid), rejects if it exits without one.
 */
export function runClientProcess(system, params, { onMark, ...opts }) {
  return new Promise((resolve, reject) => {
    let result;
    const { child, exited } = spawnChild('client', system, params, {
      ...opts,
      onLine(word, rest) {
        if (word === 'MARK') onMark(rest);
        else if (word === 'RESULT') result = JSON.parse(rest);
      },
    });
    exited.then(({ code, signal }) => {
      if (result && code === 0) resolve({ ...result, pid: child.pid });
      else reject(new Error(`${system} client exited (${signal ?? code}) without a result`));
    });
  });
}
