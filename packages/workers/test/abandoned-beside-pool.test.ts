import { msgpackCodec } from '@skein/codec-msgpack';
import { createClient, createServiceDispatch, implement, method, service } from '@skein/api';
import { RpcError, silentLogger } from '@skein/core';
import { dispatchByService } from '@skein/stream';
import { cleanups, heldHandler, memoryLogger, olderSkeinClient, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { GATES_MODULE, gate, serve, startPool, transport } from './harness.js';

// A service on the server's event loop (an api dispatch, which tells when its handlers end) beside
// a worker pool (whose workers' dispatch, a router, tells it too), one server (dispatchByService):
// a client that abandons every call it makes runs at most twice maxInFlightPerConn handlers on its
// connection, the loop's and the workers' alike; the calls it abandons to the pool before a
// worker took them run no handler and take no place.

const cleanup = cleanups();
const HOLD = 1; // gates.mjs: answers its msg once its gate opens
const ECHO = 3; // gates.mjs: answers its msg at once
const CAP = 4;
const CALLS = 100;

const Svc = service('Svc', { slow: method<number, number>(), echo: method<number, number>() });

describe('abandoned handlers beside a worker pool', () => {
  it("the loop's and the workers' stay bounded, and the connection goes on once they end", async () => {
    const pool = await startPool({ module: GATES_MODULE, workers: 1, maxInFlightPerWorker: 1, logger: memoryLogger() });
    cleanup.push(() => pool.destroy());
    // Ignores its signal, as a handler blocked in a database call would, and ends when let go.
    const handlers = heldHandler();
    const slow = (n: number) => handlers.run(n);
    const endAll = () => handlers.endAll();
    const onLoop = createServiceDispatch({ codec: msgpackCodec, logger: silentLogger, services: [implement(Svc, { slow, echo: (n) => n })] });
    // An older Skein client (no hello kind 24): its window is not narrowed to the cap, so its calls come past it.
    const s = await serve(dispatchByService({ services: { Svc: onLoop }, otherwise: pool }), { maxInFlightPerConn: CAP, closeWaitMs: 0 }, { transport: olderSkeinClient(transport, 24) });
    cleanup.push(() => s.close());
    await s.stream.ping(); // the hello is answered: calls carry their deadlines
    const svc = createClient(Svc, s.stream, { codec: msgpackCodec });
    const code = (e: unknown) => (e instanceof RpcError ? e.codeName : String(e));

    // Every call to the loop's service times out, and its handler runs on.
    const slowOnes = Array.from({ length: CALLS }, (_, i) => svc.slow(i, { timeoutMs: 1 }).then(() => 'ran', code));
    await waitFor(() => handlers.max >= 2 * CAP, { what: 'handlers started' });
    await new Promise((r) => setTimeout(r, 300));
    expect(handlers.max).toBeLessThanOrEqual(2 * CAP);
    expect(new Set(await Promise.all(slowOnes))).toEqual(new Set(['Timeout']));
    // A call behind them answered: the server has read them all (it reads in order), and has none in flight.
    const echoed = async (n: number) => {
      let got: number | undefined;
      void svc.echo(n).then((v) => (got = v));
      await waitFor(() => (endAll(), got), { what: `the loop's call ${n} behind them answered` });
      return got;
    };
    expect(await echoed(7)).toBe(7);

    // Every call to the pool is cancelled once the server has it (the worker holds the first at a
    // closed gate, the rest queue, and the pool skips the queued ones nobody waits for: no handler
    // runs for them). CAP at a time: a cancel behind a call past the cap is read only once a slot
    // frees. The loop's handlers are let go meanwhile, for those calls wait behind them. The held
    // one's handler runs on: its worker answered it, and says when it ends, so it counts.
    const g = gate();
    cleanup.push(() => g.open());
    const toPool: Promise<string>[] = [];
    const RUNNING_ON = CAP + 1;
    for (let sent = 0; sent < RUNNING_ON * CAP; sent += CAP) {
      const cancels = Array.from({ length: CAP }, () => new AbortController());
      toPool.push(...cancels.map((c) => s.stream.call(HOLD, g.msg, { signal: c.signal }).then(() => 'ran', code)));
      // In flight on the server: only these, handed to the pool (the loop's are all answered).
      await waitFor(() => (endAll(), s.server.stats().inFlight === CAP), { what: `calls ${sent + 1}-${sent + CAP} to the pool taken` });
      for (const c of cancels) c.abort();
      await waitFor(() => s.server.stats().inFlight === 0, { what: `calls ${sent + 1}-${sent + CAP} to the pool abandoned` });
    }
    // CAP + 1 handlers run on in the worker: the connection takes CAP - 1 calls more, and holds the next.
    toPool.push(...Array.from({ length: CAP }, () => s.stream.call(HOLD, g.msg).then(() => 'ran', code)));
    await waitFor(() => s.server.stats().inFlight === 2 * CAP - RUNNING_ON && s.server.stats().paused === 1, { what: 'the connection held at twice its cap' });
    // They end: their worker says so, and the connection reads on.
    g.open();
    expect(new Set(await Promise.all(toPool))).toEqual(new Set(['Cancelled', 'ran']));

    // Not wedged: the loop and the pool both answer a call after them all.
    expect(await echoed(8)).toBe(8);
    expect(Array.from((await s.stream.call(ECHO, new Uint8Array([9]))).msg)).toEqual([9]);
    expect(handlers.max).toBeLessThanOrEqual(2 * CAP);
  });
});
