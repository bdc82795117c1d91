import { ErrorCode } from '@skein/core';
import { freePort, ManualClock, startProcess, type Proc, cleanups } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConnPool } from '../src/index.js';
import { transport } from './harness.js';
import { childServer } from './pool-harness.js';

const cleanup = cleanups();

const script = fileURLToPath(new URL('./fixtures/awaiting-script.mjs', import.meta.url));

function awaitingScript(address: string, connectBudgetMs: number, after: 'close' | 'leave'): Proc {
  const proc = startProcess(process.execPath, [script, address, String(connectBudgetMs), after]);
  cleanup.push(() => {
    proc.kill('SIGKILL');
    return proc.exited;
  });
  return proc;
}

// Node ends a process whose event loop has nothing left to wait on, even with a top-level await
// pending: exit code 13 and no word from the script. A call waiting for a connection must hold
// the process; an idle pool must not.
describe('a script awaiting a pool call', () => {
  it('stays alive while the call waits out the connect budget, reports Unreachable, then exits by itself', async () => {
    const address = `127.0.0.1:${await freePort()}`; // nobody listens
    const proc = awaitingScript(address, 1500, 'leave');
    expect(await proc.exited).toBe(0);
    expect(proc.lines).toEqual(['calling', expect.stringMatching(new RegExp(`^failed code=${ErrorCode.Unreachable} cannot reach ${address}`))]);
  });

  it('stays alive while the call waits for a server that comes up later, and gets its reply', async () => {
    const port = await freePort();
    const proc = awaitingScript(`127.0.0.1:${port}`, 60_000, 'close');
    await proc.waitForLine(/^calling$/);
    const server = await childServer('late', port);
    cleanup.push(() => {
      server.proc.kill('SIGKILL');
      return server.proc.exited;
    });
    expect(await proc.exited).toBe(0);
    expect(proc.lines).toEqual(['calling', 'reply late']);
  });
});

describe('what holds the process', () => {
  it('a pool holds its ticker exactly while calls wait for a connection, across a change of tick period', async () => {
    const clock = new ManualClock();
    const pool = new ConnPool({ transport, address: `127.0.0.1:${await freePort()}`, clock, connectBudgetMs: 60_000 });
    cleanup.push(() => pool.destroy());
    expect(clock.held).toBe(0);
    const ac = new AbortController();
    const aborted = pool.call('x', undefined, { signal: ac.signal }).catch((e) => e);
    expect(clock.held).toBe(1);
    const short = pool.call('x', undefined, { timeoutMs: 100 }).catch((e) => e); // a finer period: a new ticker
    expect(clock.periods).toEqual([25]);
    expect(clock.held).toBe(1);
    ac.abort();
    expect((await aborted).code).toBe(ErrorCode.Cancelled);
    expect(clock.held).toBe(1); // the short call still waits
    clock.advance(200);
    expect((await short).code).toBe(ErrorCode.Timeout);
    expect(clock.held).toBe(0); // the pool still ticks (and reconnects), without holding the process
  });
});
