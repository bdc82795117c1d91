import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger } from '@skein/core';
import { createClient } from '@skein/api';
import { FailoverPool, RpcServer } from '@skein/stream';
import { cleanups, portOf, waitFor, within } from '@skein/test-utils';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { WorkerPool } from '../src/index.js';
import { outcome, startPool, transport } from './harness.js';
import { Ledger } from './fixtures/ledger.mjs';

// A WorkerPool's server behind a client's FailoverPool: a worker that dies mid-call fails its call
// "may have run" (IO, bare: retry 'idempotent'), so the FailoverPool does not move a call that is
// not idempotent to another server; the calls it never took are run once, by its replacement, or
// (a pool destroyed) refused unrun, bare Closed, and moved. Runs are counted by call id in a file
// every thread of every server writes to.

const cleanup = cleanups();
const LEDGER_MODULE = new URL('./fixtures/ledger.mjs', import.meta.url);

let files = 0;
/** A path for the test and its handlers to share; removed after the test. */
function tempPath(): string {
  const path = `${tmpdir()}/skein-workers-behind-failover-${process.pid}-${files++}`;
  rmSync(path, { force: true });
  cleanup.push(() => rmSync(path, { force: true }));
  return path;
}

/** Runs per call id, as the handlers noted them. */
function runsIn(path: string): Record<string, number> {
  const runs: Record<string, number> = {};
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return runs;
  }
  for (const id of text.split('\n').filter(Boolean)) runs[id] = (runs[id] ?? 0) + 1;
  return runs;
}

/** A server whose dispatch is a pool of one worker, which takes up to 8 calls at once. */
async function workerServer(): Promise<{ pool: WorkerPool; address: string }> {
  const pool = await startPool({ module: LEDGER_MODULE, workers: 1, maxInFlightPerWorker: 8, logger: silentLogger });
  cleanup.push(() => pool.destroy());
  const server = new RpcServer({ dispatch: pool });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { pool, address: `127.0.0.1:${portOf(a)}` };
}

/** Two such servers behind a FailoverPool that sends every call to the first while it may. */
async function fleet() {
  const s1 = await workerServer();
  const s2 = await workerServer();
  const failover = new FailoverPool({ transport, servers: [s1.address, s2.address], strategy: 'leader', retries: 2, retryBudget: { ratio: 10 } });
  cleanup.push(() => within(failover.close(), 10_000, 'failover pool close'));
  return { s1, ledger: createClient(Ledger, failover, { codec: msgpackCodec }) };
}

describe('a WorkerPool behind a FailoverPool runs a call that is not idempotent at most once', () => {
  it('a worker dying mid-call: that call fails "may have run", unmoved; those it never took run once on its replacement', async () => {
    const { s1, ledger } = await fleet();
    const runs = tempPath();
    const exitNow = tempPath();
    const dying = outcome(ledger.charge({ id: 'dies', runs, exitAfter: exitNow }));
    await waitFor(() => s1.pool.stats().inFlight === 1, { what: 'the dying call held' });
    // Posted to the worker, blocked in the dying call: a batch it never takes.
    const later = ['a', 'b', 'c'].map((id) => outcome(ledger.charge({ id, runs })));
    await waitFor(() => s1.pool.stats().inFlight === 4, { what: 'the later calls posted' });
    writeFileSync(exitNow, '');
    expect(await dying).toMatchObject({ code: 'IO', retry: 'idempotent' });
    expect(await Promise.all(later)).toEqual([{ ok: 'a' }, { ok: 'b' }, { ok: 'c' }]);
    expect(runsIn(runs)).toEqual({ dies: 1, a: 1, b: 1, c: 1 });
  });

  it('a pool destroyed while its worker is blocked mid-call: that call fails "may have run", unmoved; those it never took move and run once', async () => {
    const { s1, ledger } = await fleet();
    const runs = tempPath();
    const exitNow = tempPath();
    const blocked = outcome(ledger.charge({ id: 'blocked', runs, exitAfter: exitNow }));
    // Posted is not taken: a pool destroyed before its worker claimed the batch refuses the call
    // unrun, and it moves to block the other server's worker. Its run is noted before it blocks.
    await waitFor(() => runsIn(runs).blocked === 1, { what: 'the blocked call running' });
    const later = ['d', 'e'].map((id) => outcome(ledger.charge({ id, runs })));
    await waitFor(() => s1.pool.stats().inFlight === 3, { what: 'the later calls posted' });
    // Ends the blocked worker (terminate stops a thread that blocks): its untaken calls fail Closed, bare.
    const destroyed = s1.pool.destroy();
    expect(await blocked).toMatchObject({ code: 'IO', retry: 'idempotent' });
    expect(await Promise.all(later)).toEqual([{ ok: 'd' }, { ok: 'e' }]);
    await destroyed;
    expect(runsIn(runs)).toEqual({ blocked: 1, d: 1, e: 1 });
  });
});
