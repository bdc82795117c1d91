import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger } from '@skein/core';
import { createClient, createServiceDispatch, implement, withBlob } from '@skein/api';
import { ManualClock, cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { WorkerPool } from '../src/index.js';
import { Back, Peer } from './fixtures/calls-back.mjs';
import { serve, startPool } from './harness.js';

// A pool's worker learns whether a connection calls back from the description it gets with the
// connection's first call sent to it, and keeps that for the connection's life. On a server that
// authenticates, `ConnInfo.caller` is undefined while the grant has run out: a call admitted
// before that, still queued then, must not make the worker believe the connection never calls
// back (its handlers' `ctx.caller` would stay undefined after the grant is renewed).

const codec = msgpackCodec;
const BACK_MODULE = new URL('./fixtures/calls-back.mjs', import.meta.url);
const cleanup = cleanups();

/** The client's side: `Peer`, whose `hang` answers only when released. */
function peer() {
  const hung: (() => void)[] = [];
  const dispatch = createServiceDispatch({
    codec,
    logger: silentLogger,
    services: [implement(Peer, { greet: (n) => `hello ${n}`, fail: () => {}, hang: (tag) => new Promise<string>((r) => hung.push(() => r(tag))), count: async function* () {}, mirror: ({ value, blob }) => withBlob({ tag: value.tag, sum: 0 }, blob) })],
  });
  return { dispatch, hung, release: () => hung.splice(0).forEach((r) => r()) };
}

describe("a worker's ctx.caller on a server that authenticates", () => {
  it('stays given for a connection whose grant ran out while its call was queued, once it is renewed', async () => {
    const pool: WorkerPool = await startPool({ module: BACK_MODULE, workers: 1, maxInFlightPerWorker: 1 });
    cleanup.push(() => pool.destroy());

    // Another server's client takes the pool's one place: its call hangs on a call back.
    const busyPeer = peer();
    const busy = await serve(pool, {}, { serve: busyPeer.dispatch });
    cleanup.push(() => busy.close());
    cleanup.push(() => busyPeer.release());
    await busy.stream.ping();
    const held = createClient(Back, busy.stream, { codec }).timed({ withCtx: false });
    await waitFor(() => busyPeer.hung.length === 1, { what: 'the busy call to take the place' });

    // The authenticated client's call waits in the pool's queue while its grant runs out.
    const clock = new ManualClock();
    // No server pings: the clock's one jump must move the grant alone.
    const authed = await serve(pool, { clock, keepaliveMs: 0, authenticate: ({ text }) => ({ principal: { name: text }, expiresInMs: 60_000 }) }, { serve: peer().dispatch, credentials: 'ada', keepaliveMs: 0 });
    cleanup.push(() => authed.close());
    const back = createClient(Back, authed.stream, { codec });
    const queued = back.hasCaller();
    await waitFor(() => pool.stats().queued === 1, { what: 'the call to wait in the queue' });
    clock.advance(60_001);
    expect(authed.server.openConnections()[0]!.caller).toBeUndefined();

    busyPeer.release();
    await held;
    // Admitted before the grant ran out: the pool keeps the connection's caller for it.
    expect(await queued).toBe(true);

    await authed.stream.renewCredentials();
    expect(authed.server.openConnections()[0]!.caller).toBeDefined();
    expect(await back.hasCaller()).toBe(true);
  });
});
