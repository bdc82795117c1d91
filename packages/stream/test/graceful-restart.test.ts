import { memoryLogger, sleep, startProcess, waitFor, within, type Proc, cleanups } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type Reply } from '../src/index.js';
import { transport } from './harness.js';

const fixture = fileURLToPath(new URL('./fixtures/restart-server.mjs', import.meta.url));
const utf8 = new TextEncoder();
const text = new TextDecoder();

const cleanup = cleanups();

/** Kills a process by pid if it still runs (the successor is not the test's child). */
const killPid = (pid: number): void => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
};

describe('graceful restart (Node: the listening socket handed to a new process)', () => {
  it('a client flooding through the restart sees no failed call, and every call runs exactly once', async () => {
    const first: Proc = startProcess(process.execPath, [fixture, '1']);
    cleanup.push(() => killPid(first.pid));
    const [, port, how] = await first.waitForLine(/listening g1 (\d+) (\w+)/);
    expect(how).toBe('bound');
    const logger = memoryLogger();
    const pool = new FailoverPool({ transport, servers: [`127.0.0.1:${port}`], logger });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));

    const failed: string[] = [];
    const answeredBy = new Map<number, string>();
    let next = 0;
    let flooding = true;
    const worker = async (): Promise<void> => {
      while (flooding) {
        const id = next++;
        // Half the calls are not idempotent: a restart must not need retries that could run a call twice.
        try {
          const r: Reply = await pool.call('record', utf8.encode(String(id)), { idempotent: id % 2 === 0, timeoutMs: 10_000 });
          answeredBy.set(id, text.decode(r.msg));
        } catch (err) {
          failed.push(`${id}: ${(err as Error).message}`);
          await sleep(10); // a call that fails at once must not starve the event loop
        }
      }
    };
    const flood = Promise.all(Array.from({ length: 8 }, worker));
    const byGen = (g: string): number => [...answeredBy.values()].filter((n) => n === g).length;

    await waitFor(() => answeredBy.size >= 500, { what: 'calls before the restart' });
    first.kill('SIGHUP');
    const [, successorPid] = await first.waitForLine(/handed over g1 to (\d+)/);
    cleanup.push(() => killPid(Number(successorPid)));
    await first.waitForLine(/listening g2 (\d+) inherited/);
    await first.waitForLine(/drained g1/);
    await waitFor(() => first.child.exitCode !== null, { what: 'the old process to exit' });
    const mark = byGen('g2');
    await waitFor(() => byGen('g2') >= mark + 500, { what: 'calls after the restart' });
    flooding = false;
    await within(flood, 20_000, 'the flood');

    // On a failure, what both generations and the pool said is the first thing to read.
    if (failed.length) console.log(first.lines.filter((l) => !l.startsWith('ran')).join('\n'), JSON.stringify(logger.lines));
    expect(failed).toEqual([]);
    expect(first.child.exitCode).toBe(0);
    expect(byGen('g1')).toBeGreaterThan(0);
    expect(byGen('g2')).toBeGreaterThan(0);
    // The shared execution log: each call ran exactly once, on the generation that answered it.
    // A handler writes its line before it answers, but the pipe may be read after the socket:
    // wait for as many lines as answers (a call that never ran leaves this waiting and failing).
    const ranLines = (): number => first.lines.filter((l) => l.startsWith('ran ')).length;
    await waitFor(() => ranLines() >= answeredBy.size, { what: 'a line in the execution log for every answered call' });
    const ran = new Map<number, string[]>();
    for (const l of first.lines) {
      const m = /^ran (\d+) (g\d)$/.exec(l);
      if (m) ran.set(Number(m[1]), [...(ran.get(Number(m[1])) ?? []), m[2]!]);
    }
    const wrong = [...answeredBy].filter(([id, g]) => ran.get(id)?.join() !== g);
    expect(wrong).toEqual([]);
    expect(ran.size).toBe(answeredBy.size);
  }, 60_000);
});
