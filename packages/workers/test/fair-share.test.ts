import { RpcError } from '@skein/core';
import { ClientStream, RpcServer } from '@skein/stream';
import { cleanups, memoryLogger, portOf, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { GATES_MODULE, gate, outcome, transport, startPool } from './harness.js';

const cleanup = cleanups();
const PACED_MODULE = new URL('./fixtures/paced.mjs', import.meta.url);
const PACED = 1;

/** A pool behind a real server, and a way to open connections to it. */
async function poolServer(opts: Parameters<typeof startPool>[0]) {
  const logger = memoryLogger();
  const p = await startPool({ logger, ...opts });
  cleanup.push(() => p.destroy());
  const server = new RpcServer({ dispatch: p, maxInFlightPerConn: 256 });
  const port = portOf(await server.listen(transport, '127.0.0.1:0'));
  cleanup.push(() => server.close());
  const connect = async () => {
    const s = await ClientStream.connect({ transport, address: `127.0.0.1:${port}`, window: 256 });
    cleanup.push(() => s.destroy());
    return s;
  };
  return { pool: p, logger, connect };
}

type Tally = { ok: number; overloaded: number; other: string[] };
const tally = (): Tally => ({ ok: 0, overloaded: 0, other: [] });

/** One call's outcome counted: answered, refused Overloaded unrun (retry 'safe'), or anything else (named). */
async function count(t: Tally, call: Promise<unknown>): Promise<void> {
  try {
    await call;
    t.ok++;
  } catch (err) {
    if (err instanceof RpcError && err.codeName === 'Overloaded' && err.retry === 'safe') t.overloaded++;
    else t.other.push(String(err));
  }
}

/** Keeps `window` calls in flight on `s` until `stop()`: each that ends, answered or refused, is sent again at once. */
function greedy(s: ClientStream, window: number) {
  const t = tally();
  let stopped = false;
  const lane = async () => {
    while (!stopped) await count(t, s.call(PACED, new Uint8Array([1])));
  };
  const lanes = Promise.all(Array.from({ length: window }, lane));
  return { t, stop: () => ((stopped = true), lanes) };
}

describe('WorkerPool: one shared queue, fair shares', () => {
  it('greedy connections that keep the queue full do not starve a polite one: they are refused past their share', async () => {
    const { pool, connect } = await poolServer({ module: PACED_MODULE, workers: 2, maxInFlightPerWorker: 4, maxQueued: 32 });
    const floods = await Promise.all(Array.from({ length: 4 }, async () => greedy(await connect(), 128)));
    // The floods fill the queue (32) many times over before the polite client starts.
    await waitFor(() => pool.stats().overloaded > 100);
    const polite = await connect();
    const p = tally();
    for (let i = 0; i < 30; i++) await count(p, polite.call(PACED, new Uint8Array([2])));
    const greedyTallies = await Promise.all(floods.map(async (f) => (await f.stop(), f.t)));
    // Every polite call ran; the greedy ones were served too, and refused (unrun) for what was past their share.
    expect(p).toEqual({ ok: 30, overloaded: 0, other: [] });
    for (const g of greedyTallies) {
      expect(g.other).toEqual([]);
      expect(g.ok).toBeGreaterThan(0);
      expect(g.overloaded).toBeGreaterThan(0);
    }
  });

  // One worker holding one call (A's first), a queue of 4 that A fills alone; then A sends 2 more
  // and B sends 3. Each step waits for the refusal it causes (the call named), so the order is
  // the test's, not the scheduler's. Alone, A's share is the whole queue: past it, it is refused
  // as ever. B, under its share (2 of 4), is let in at a place of A's; past it, B gives up its own.
  it.each([
    // reject-new: the newest calls of the connection past its share give up their places.
    { whenFull: 'reject-new', steps: [['a', 'a', 5], ['a', 'a', 6], ['b', 'a', 4], ['b', 'a', 3], ['b', 'b', 2]] },
    // shed-oldest: its oldest waiting ones.
    { whenFull: 'shed-oldest', steps: [['a', 'a', 1], ['a', 'a', 2], ['b', 'a', 3], ['b', 'a', 4], ['b', 'b', 0]] },
  ] as const)('a connection past its share of a full queue gives up its places to one under it ($whenFull)', async ({ whenFull, steps }) => {
    const { pool, connect } = await poolServer({ module: GATES_MODULE, workers: 1, maxInFlightPerWorker: 1, maxQueued: 4, whenFull });
    const g = gate();
    const conns = { a: await connect(), b: await connect() };
    const calls: Record<'a' | 'b', Promise<unknown>[]> = { a: [], b: [] };
    const send = (who: 'a' | 'b') => calls[who].push(outcome(conns[who].call(1, g.msg)));
    send('a');
    await waitFor(() => pool.stats().inFlight === 1);
    for (let i = 0; i < 4; i++) send('a');
    await waitFor(() => pool.stats().queued === 4);
    for (const [who, lost, i] of steps) {
      send(who);
      expect(await calls[lost][i]).toEqual({ code: 'Overloaded', retry: 'safe', message: 'rpc_overloaded' });
    }
    expect(pool.stats()).toMatchObject({ queued: 4, overloaded: 5 });
    g.open();
    // Every other call ran.
    const lost = new Set(steps.map(([, l, i]) => `${l}${i}`));
    for (const who of ['a', 'b'] as const) {
      const got = await Promise.all(calls[who]);
      for (const [i, r] of got.entries()) if (!lost.has(`${who}${i}`)) expect(r).toEqual({ ok: expect.objectContaining({ msg: g.msg }) });
    }
  });
});
