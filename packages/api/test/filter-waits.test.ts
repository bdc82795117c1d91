import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger, type RpcError } from '@skein/core';
import { ManualClock, deferred, portOf, waitFor, within, cleanups } from '@skein/test-utils';
import { ClientStream, RpcServer, type Caller } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type Filter, type Outcome } from '../src/index.js';
import { transport } from './harness.js';

// A filter's `before` that awaits (a token fetched from another service, a quota asked for)
// must not outlive the call: a call cancelled meanwhile, or made for a handler whose own call
// was cancelled, ends at once and is never sent; and `after` sees how the call really ended.

const Svc = service('Svc', { run: method<number, number>() });
const Front = service('Front', { relay: method<number, string>() });

const cleanup = cleanups();

/** A server of `Svc` (optionally other services too) and a connected, hello-answered stream to it. */
async function start(filters: Filter[] = [], run: (n: number) => unknown = (n) => n) {
  let runs = 0;
  const server = new RpcServer({
    dispatch: createServiceDispatch({ codec: msgpackCodec, logger: silentLogger, filters, services: [implement(Svc, { run: (n) => (runs++, run(n)) as number })] }),
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}` });
  cleanup.push(() => stream.destroy());
  await stream.ping(); // the hello is answered: calls carry their cancel
  return { stream, runs: () => runs };
}

/** A `before` that waits until `gate` opens (never, unless the test opens it), counting its entries. */
function gated() {
  const gate = deferred<void>();
  const entered = deferred<void>();
  const filter: Filter = { before: () => (entered.resolve(), gate.promise) };
  return { filter, gate, entered: entered.promise };
}

/**
 * A server of `Svc` whose client has a gated filter (`g`), and a Front server (on `clock`, if
 * given) whose relay calls it with the handler's `{ ctx }`, telling `innerOutcome` how that call
 * ended; `front`, a client of Front on a hello-answered stream.
 */
async function relayed(clock?: ManualClock) {
  const down = await start();
  const g = gated();
  const downstream = createClient(Svc, down.stream, { codec: msgpackCodec, filters: [g.filter] });
  const innerOutcome = deferred<string>();
  const server = new RpcServer({
    ...(clock && { clock }),
    dispatch: createServiceDispatch({
      codec: msgpackCodec,
      logger: silentLogger,
      services: [
        implement(Front, {
          relay: (n, ctx) =>
            downstream.run(n, { ctx }).then(
              () => (innerOutcome.resolve('ok'), 'ok'),
              (e: RpcError) => (innerOutcome.resolve(e.codeName), 'failed'),
            ),
        }),
      ],
    }),
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  const s = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}` });
  cleanup.push(() => s.destroy());
  await s.ping();
  return { down, g, innerOutcome, front: createClient(Front, s, { codec: msgpackCodec }) };
}

describe('a client filter that awaits', () => {
  it('is cut short by the call signal: the call rejects Cancelled at once, and is never sent, even once the filter resolves', async () => {
    const { stream, runs } = await start();
    const g = gated();
    let sent = 0;
    // Counts what reaches the Caller: a Caller of your own may not look at the signal at all.
    const counting: Caller = { send: (action, msg, o, notify) => (sent++, stream.send(action, msg, o, notify)) };
    const svc = createClient(Svc, counting, { codec: msgpackCodec, filters: [g.filter] });
    const ac = new AbortController();
    const call = svc.run(1, { signal: ac.signal }).catch((e: RpcError) => e);
    await g.entered;
    ac.abort();
    // The signal's reason is its cause, as a sent call's Cancelled has it.
    expect(await within(call, 5000, 'the cancelled call')).toMatchObject({ code: ErrorCode.Cancelled, cause: ac.signal.reason });
    g.gate.resolve();
    // One more call on the same connection, after the gate: a call sent late would have run first.
    expect(await createClient(Svc, stream, { codec: msgpackCodec }).run(2)).toBe(2);
    expect(runs()).toBe(1);
    expect(sent).toBe(0);
  });

  it('is cut short when the handler it calls for is cancelled: the cancel reaches through the hop', async () => {
    const { down, g, innerOutcome, front } = await relayed();
    const ac = new AbortController();
    const outer = front
      .relay(1, { signal: ac.signal })
      .catch((e: RpcError) => e.codeName);
    await g.entered;
    ac.abort();
    expect(await outer).toBe('Cancelled');
    expect(await within(innerOutcome.promise, 5000, "the handler's downstream call")).toBe('Cancelled');
    g.gate.resolve();
    expect(await createClient(Svc, down.stream, { codec: msgpackCodec }).run(2)).toBe(2);
    expect(down.runs()).toBe(1);
  });

  it('is cut short when the deadline of the handler it calls for passes: Timeout, not Cancelled, never sent', async () => {
    const clock = new ManualClock();
    const { down, g, innerOutcome, front } = await relayed(clock);
    // Far off by the real clock (the filter's own timer); passed by the front server's.
    const outer = front
      .relay(1, { timeoutMs: 30_000 })
      .catch((e: RpcError) => e.codeName);
    await g.entered;
    clock.advance(30_000);
    expect(await outer).toBe('Timeout');
    expect(await within(innerOutcome.promise, 5000, "the handler's downstream call")).toBe('Timeout');
    g.gate.resolve();
    expect(await createClient(Svc, down.stream, { codec: msgpackCodec }).run(2)).toBe(2);
    expect(down.runs()).toBe(1);
  });

  it('is bounded by the call timeout: Timeout, retry-safe, never sent', async () => {
    const { stream, runs } = await start();
    const g = gated();
    const svc = createClient(Svc, stream, { codec: msgpackCodec, filters: [g.filter], timeoutMs: 200 });
    const err = await within(svc.run(1).catch((e: RpcError) => e), 5000, 'the call');
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    g.gate.resolve();
    expect(await createClient(Svc, stream, { codec: msgpackCodec }).run(2)).toBe(2);
    expect(runs()).toBe(1);
  });

  it('leaves a timeout no timer can keep to the Caller, which refuses it as without filters', async () => {
    const { stream, runs } = await start();
    const passing: Filter = { before: () => Promise.resolve() };
    const svc = createClient(Svc, stream, { codec: msgpackCodec, filters: [passing] });
    for (const timeoutMs of [Infinity, 0, -5]) {
      await expect(svc.run(1, { timeoutMs })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    }
    expect(runs()).toBe(0);
  });

  it('arms no timer for a call whose signal was aborted before the filter awaited: nothing outlives the rejected call', async () => {
    const { stream, runs } = await start();
    const g = gated();
    const svc = createClient(Svc, stream, { codec: msgpackCodec, filters: [g.filter], timeoutMs: 600_000 });
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const calls = 50;
    for (let i = 0; i < calls; i++) {
      await expect(svc.run(i, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    }
    // One armed per call would stay, each for the whole 600 s timeout (and keep the process alive).
    expect(timers() - before).toBeLessThan(calls / 2);
    g.gate.resolve();
    expect(runs()).toBe(0);
  });

  it('leaves the call what is left of its timeout once the filter let it through', async () => {
    let remaining: number | undefined;
    const server = new RpcServer({
      dispatch: createServiceDispatch({ codec: msgpackCodec, services: [implement(Svc, { run: (n, ctx) => ((remaining = ctx.remainingMs()), n) })] }),
    });
    const a = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}` });
    cleanup.push(() => stream.destroy());
    await stream.ping();
    // Lets the call through once at least 1000 ms went by since it began.
    const slow: Filter = { before: () => new Promise((r) => setTimeout(r, 1000)) };
    const svc = createClient(Svc, stream, { codec: msgpackCodec, filters: [slow] });
    expect(await svc.run(1, { timeoutMs: 5000 })).toBe(1);
    // The client's deadline wheel rounds by a tick or so: 1000 ms of filters leave at most 4000 ms; without the cut, over 4600.
    expect(remaining).toBeLessThanOrEqual(4300);
  });
});

describe('a server filter that awaits', () => {
  it("ends with the call: the completed filters' after runs when the client cancels, and the handler never starts", async () => {
    const outcomes: string[] = [];
    const recorder: Filter = { after: (_i, o: Outcome) => void outcomes.push(o.ok ? 'ok' : (o.error as RpcError).codeName) };
    const g = gated();
    const { stream, runs } = await start([recorder, g.filter]);
    const svc = createClient(Svc, stream, { codec: msgpackCodec });
    const ac = new AbortController();
    const call = svc.run(1, { signal: ac.signal }).catch((e: RpcError) => e.codeName);
    await g.entered;
    ac.abort();
    expect(await call).toBe('Cancelled');
    await waitFor(() => outcomes.length === 1, { what: "the recorder's after" });
    expect(outcomes).toEqual(['Cancelled']);
    g.gate.resolve();
    expect(await svc.run(2)).toBe(2);
    expect(runs()).toBe(1);
    expect(outcomes).toEqual(['Cancelled', 'ok']);
  });

  it("lets after see a handler's thenable settle: a query builder's failure is no success", async () => {
    const outcomes: unknown[] = [];
    const recorder: Filter = { after: (_i, o: Outcome) => void outcomes.push(o.ok ? o.value : (o.error as Error).message) };
    // Not a native Promise: a query builder's result, say.
    const thenable = (n: number) => ({
      then: (ok: (v: number) => void, fail: (e: Error) => void) => void setImmediate(() => (n < 0 ? fail(new Error('query failed')) : ok(n))),
    });
    const { stream } = await start([recorder], thenable);
    const svc = createClient(Svc, stream, { codec: msgpackCodec });
    expect(await svc.run(3)).toBe(3);
    await expect(svc.run(-1)).rejects.toMatchObject({ code: ErrorCode.Internal });
    expect(outcomes).toEqual([3, 'query failed']);
  });
});
