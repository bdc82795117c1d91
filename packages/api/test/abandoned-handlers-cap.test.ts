import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger, type RpcError } from '@skein/core';
import { olderSkeinClient, portOf, waitFor, cleanups } from '@skein/test-utils';
import { ClientStream, RpcServer } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, serverStream, service } from '../src/index.js';
import { transport } from './harness.js';

const Svc = service('Svc', { slow: method<number, number>(), echo: method<number, number>(), feed: serverStream<number, number>() });

const cleanup = cleanups();

const CAP = 4;
const CALLS = 200;

/**
 * A server of `Svc` whose `slow` handlers (and `feed`'s one item) ignore their signal and run until
 * the test ends them (`ends`), counting how many run at once (`now`, `max`), with `dispatch`'s
 * options; and a typed client over one connection whose hello is answered.
 */
async function slowServer(dispatch: { handlerTimeoutMs?: number; streamTimeoutMs?: number } = {}) {
  const run = { now: 0, max: 0, ends: [] as (() => void)[] };
  const slow = (n: number) => {
    run.max = Math.max(run.max, ++run.now);
    return new Promise<number>((resolve) => run.ends.push(() => (run.now--, resolve(n))));
  };
  const feed = async function* (n: number) {
    yield await slow(n);
  };
  const server = new RpcServer({
    dispatch: createServiceDispatch({ codec: msgpackCodec, logger: silentLogger, ...dispatch, services: [implement(Svc, { slow, echo: (n) => n, feed })] }),
    maxInFlightPerConn: CAP,
    closeWaitMs: 0,
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  // An older Skein client (no hello kind 24): its window is not narrowed to the cap, so it sends past it, as the bound is for.
  const stream = await ClientStream.connect({ transport: olderSkeinClient(transport, 24), address: `127.0.0.1:${portOf(a)}`, keepaliveMs: 0 });
  cleanup.push(() => stream.destroy());
  await stream.ping(); // the hello is answered: calls carry their deadlines
  return { run, svc: createClient(Svc, stream, { codec: msgpackCodec }) };
}

/** Ends every handler running now. */
const endAll = (run: { ends: (() => void)[] }): void => run.ends.splice(0).forEach((end) => end());

/**
 * As @skein/stream's abandoned-handlers-cap test, through the service dispatch: a client whose
 * every call times out (each goes with a deadline of 1 ms, and a cancel) frees each call's slot
 * at once, but the handlers that ignore their signal run on, and no more than twice
 * maxInFlightPerConn may run at once on its connection. They tell their end to the connection
 * (`tellsHandlerEnds`): once they end, the connection takes calls again.
 */
describe('service handlers still running after their calls were abandoned', () => {
  it('a client whose every call times out runs at most twice maxInFlightPerConn handlers at once; once they end, calls run again', async () => {
    const { run, svc } = await slowServer();
    const outcomes = await Promise.all(Array.from({ length: CALLS }, (_, i) => svc.slow(i, { timeoutMs: 1 }).catch((e: RpcError) => e.code)));
    expect(outcomes.every((o) => o === ErrorCode.Timeout)).toBe(true);
    await waitFor(() => run.max >= 2 * CAP, { what: 'handlers started' });
    await new Promise((r) => setTimeout(r, 300));
    expect(run.max).toBeLessThanOrEqual(2 * CAP);
    // Not wedged: as the abandoned handlers end, the connection reads on, and answers a call sent behind them.
    let echoed: number | undefined;
    void svc.echo(7).then((n) => (echoed = n));
    await waitFor(() => (endAll(run), echoed), { what: 'the call behind them answered' });
    expect(echoed).toBe(7);
    expect(run.max).toBeLessThanOrEqual(2 * CAP);
  });
});

/**
 * handlerTimeoutMs answers Timeout for a handler that runs too long; for a call its client
 * abandoned first, that answer is no news (nobody waits) and the handler is not over: it must go
 * on counting against its connection until it ends, or every sweep lets as many again start.
 */
describe('abandoned service handlers past handlerTimeoutMs', () => {
  it('still count until they end: at most twice maxInFlightPerConn run at once', async () => {
    const { run, svc } = await slowServer({ handlerTimeoutMs: 50 });
    await Promise.all(Array.from({ length: CALLS }, (_, i) => svc.slow(i, { timeoutMs: 1 }).catch((e: RpcError) => e.code)));
    await waitFor(() => run.max >= 2 * CAP, { what: 'handlers started' });
    // Several sweeps (one each 50 ms): none may let more handlers start while these run.
    await new Promise((r) => setTimeout(r, 500));
    expect(run.max).toBeLessThanOrEqual(2 * CAP);
    endAll(run);
  });
});

/**
 * handlerTimeoutMs answers Timeout for a handler that runs too long and frees its call's slot,
 * but a handler that ignores its signal runs on: with no cancel and no client deadline at all,
 * each sweep let as many again start (100 at once with a cap of 4). Such handlers count against
 * their connection until they end, as abandoned ones do: for calls with a head, and for a Skein
 * client's plain calls (no per-call timeoutMs, signal or metadata), whose connection had made no
 * extensions' state to count them in.
 */
describe('service handlers timed out by the server itself', () => {
  it.each([
    ['with a head (a far client deadline)', { timeoutMs: 60_000 }],
    ['plain (no head)', undefined],
  ])('count until they end, calls %s: at most twice maxInFlightPerConn run at once, and every call is answered', async (_, opts) => {
    const { run, svc } = await slowServer({ handlerTimeoutMs: 50 });
    let settled = 0;
    const outcomes = Array.from({ length: 40 }, (_, i) => svc.slow(i, opts).then(() => 'ran', (e: RpcError) => (e.code === ErrorCode.Timeout ? 'timed out' : `failed ${e.code}`)).finally(() => settled++));
    await waitFor(() => run.max >= 2 * CAP, { what: 'handlers started' });
    // Several sweeps (one each 50 ms): none may let more handlers start while these run.
    await new Promise((r) => setTimeout(r, 500));
    expect(run.max).toBeLessThanOrEqual(2 * CAP);
    // Not wedged: as they end, the rest run (and time out in turn) and every call is answered.
    await waitFor(() => (endAll(run), settled === outcomes.length || undefined), { what: 'every call answered' });
    // Each ran to its end, or was answered Timeout by the server first: none lost, none refused.
    const seen = new Set(await Promise.all(outcomes));
    expect([...seen].filter((o) => o !== 'ran' && o !== 'timed out')).toEqual([]);
    expect(run.max).toBeLessThanOrEqual(2 * CAP);
  });
});

/**
 * A stream timed out by the server's stream timeout whose generator ignores its signal: its
 * stream closes (it stops counting among `streams`) and it counts as abandoned until it ends, once
 * (not twice: the connection would stay wedged after they end).
 */
describe('stream handlers timed out by the server itself', () => {
  it('count until they end, once: at most twice maxInFlightPerConn run at once, and every stream is answered', async () => {
    const { run, svc } = await slowServer({ streamTimeoutMs: 50 });
    let settled = 0;
    const read = async (i: number): Promise<string> => {
      for await (const _ of await svc.feed(i));
      return 'ran';
    };
    const outcomes: Promise<string>[] = [];
    // Streams past their cap are refused at once (Overloaded): sent in waves, across several sweeps.
    for (let wave = 0; wave < 30; wave++) {
      for (let i = 0; i < CAP; i++) outcomes.push(read(i).then((o) => o, (e: RpcError) => (e.code === ErrorCode.Timeout ? 'timed out' : e.code === ErrorCode.Overloaded ? 'refused' : `failed ${e.code}`)).finally(() => settled++));
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => run.max >= 2 * CAP, { what: 'handlers started' });
    expect(run.max).toBeLessThanOrEqual(2 * CAP);
    await waitFor(() => (endAll(run), settled === outcomes.length || undefined), { what: 'every stream answered' });
    const seen = new Set(await Promise.all(outcomes));
    expect([...seen].filter((o) => o !== 'ran' && o !== 'timed out' && o !== 'refused')).toEqual([]);
    // Not wedged: counted once, each ended once, the connection takes calls as before.
    expect(await Promise.all(Array.from({ length: 2 * CAP }, (_, i) => svc.echo(i)))).toEqual(Array.from({ length: 2 * CAP }, (_, i) => i));
    expect(run.max).toBeLessThanOrEqual(2 * CAP);
  });
});
