import { createClient, createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { RpcError, silentLogger } from '@skein/core';
import { dispatchByService, type Dispatch, type ServerRequest } from '@skein/stream';
import { cleanups, heldHandler, olderSkeinClient, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { telemetry } from './otel-harness.js';
import { startTraced, stopTraced } from './traced-server.js';

const Svc = service('Svc', { slow: method<number, number>(), echo: method<number, number>() });
const CAP = 4;
const CALLS = 100;

const cleanup = cleanups();

/**
 * tracedDispatch over a dispatchByService whose `Svc` is an api dispatch on the loop (it tells
 * when its handlers end) and whose rest does not tell (as a worker pool): the server's question,
 * asked per request when a call is abandoned, passes through the tracing to the dispatch that
 * took the request. Svc's abandoned handlers stay bounded; the rest's never hold a place.
 */
describe('a traced dispatchByService', () => {
  it("bounds the abandoned handlers of the service that tells, and counts none of the other's", async () => {
    const { otel } = telemetry();
    // Ignores its signal, as a handler blocked in a database call would, and ends when let go.
    const handlers = heldHandler();
    const slow = (n: number) => handlers.run(n);
    const onLoop = createServiceDispatch({ codec: msgpackCodec, logger: silentLogger, services: [implement(Svc, { slow, echo: (n) => n })] });
    // Holds every call and answers none abandoned meanwhile: nothing ever says its handler ended.
    const held: ServerRequest[] = [];
    const rest: Dispatch = { dispatch: (req) => void held.push(req) };
    // An older Skein client (no hello kind 24): its window is not narrowed to the cap, so its calls come past it.
    const s = await startTraced(dispatchByService({ services: { Svc: onLoop }, otherwise: rest }), otel, { maxInFlightPerConn: CAP, closeWaitMs: 0 }, (t) => olderSkeinClient(t, 24));
    cleanup.push(() => stopTraced(s));
    await s.peer.ping(); // the hello is answered: calls carry their deadlines
    const svc = createClient(Svc, s.peer, { codec: msgpackCodec });
    const code = (e: unknown) => (e instanceof RpcError ? e.codeName : String(e));
    const endAll = () => handlers.endAll();
    // Every call to Svc times out, and its handler runs on.
    const slowOnes = Array.from({ length: CALLS }, (_, i) => svc.slow(i, { timeoutMs: 1 }).then(() => 'ran', code));
    await waitFor(() => handlers.max >= 2 * CAP, { what: 'handlers started' });
    await new Promise((r) => setTimeout(r, 300));
    expect(handlers.max).toBeLessThanOrEqual(2 * CAP);
    expect(new Set(await Promise.all(slowOnes))).toEqual(new Set(['Timeout']));
    // Every call to the rest is cancelled once held there, and never told ended; CAP at a time,
    // for a cancel sent behind a call past the cap is read only once a slot frees. Svc's
    // handlers are let go meanwhile, for those calls wait behind them.
    const heldOnes: Promise<string>[] = [];
    for (let sent = 0; sent < CALLS; sent += CAP) {
      const cancels = Array.from({ length: CAP }, () => new AbortController());
      heldOnes.push(...cancels.map((c) => s.peer.call('Other.hold', new Uint8Array(0), { signal: c.signal }).then(() => 'ran', code)));
      await waitFor(() => (endAll(), held.length === sent + CAP), { what: `calls ${sent + 1}-${sent + CAP} to the rest held` });
      for (const c of cancels) c.abort();
    }
    expect(new Set(await Promise.all(heldOnes))).toEqual(new Set(['Cancelled']));
    // The server abandons each at its cancel, which may come after the client gave up on it.
    await waitFor(() => held.every((r) => r.isAnswered), { what: 'every call to the rest abandoned' });
    // Not wedged: a call after them all is answered.
    let echoed: number | undefined;
    void svc.echo(7).then((n) => (echoed = n));
    await waitFor(() => (endAll(), echoed), { what: 'the call after them answered' });
    expect(echoed).toBe(7);
    expect(handlers.max).toBeLessThanOrEqual(2 * CAP);
  });
});
