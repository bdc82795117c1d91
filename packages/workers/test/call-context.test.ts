import { msgpackCodec } from '@skein/codec-msgpack';
import { createServiceDispatch } from '@skein/api';
import type { Dispatch, RpcServerOptions } from '@skein/stream';
import { suiteCerts, testTls, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import calcOptions from './fixtures/calc.mjs';
import { HANDLER_TIMEOUT_MS } from './fixtures/calc-timed.mjs';
import { CALC_MODULE, outcome, serve, startPool, type TlsPair } from './harness.js';

// What a worker's handler knows of its call (deadline, metadata, cancel) and of its connection
// (kind, TLS identity, principal), against the same services in process.

const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);
const TIMED_MODULE = new URL('./fixtures/calc-timed.mjs', import.meta.url);

const cleanup = cleanups();

async function pool(opts: Partial<Parameters<typeof startPool>[0]> = {}) {
  const p = await startPool({ module: CALC_MODULE, workers: 1, ...opts });
  cleanup.push(() => p.destroy());
  return p;
}

async function served(dispatch: Dispatch, serverOpts: Partial<RpcServerOptions> = {}, tls?: TlsPair, credentials?: string) {
  const s = await serve(dispatch, serverOpts, credentials === undefined ? {} : { credentials }, tls);
  cleanup.push(() => s.close());
  // Until the hello is answered a call's deadline or signal travels as a plain call: a round trip first.
  await s.stream.ping();
  return s;
}

const inProcess = (): Dispatch => createServiceDispatch({ ...calcOptions, codec: msgpackCodec });

/** Resolves with the next line the fixture handlers report on their side channel. */
function nextEvent(): Promise<string> {
  const events = new BroadcastChannel('skein-workers-test-events');
  cleanup.push(() => events.close());
  return new Promise((resolve) => (events.onmessage = (e: MessageEvent) => resolve(e.data as string)));
}

describe("a worker handler's ctx", () => {
  it("has the call's deadline, remaining time and metadata, as in process", async () => {
    const metadata = { authorization: 'Bearer t0k', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const run = async (dispatch: Dispatch) => {
      const { calc } = await served(dispatch);
      const timed = await calc.head(undefined, { timeoutMs: 60_000, metadata });
      return { timed, metaOnly: await calc.head(undefined, { metadata: { traceparent: metadata.traceparent } }), plain: await calc.head() };
    };
    for (const r of [await run(inProcess()), await run(await pool())]) {
      expect(r.timed).toMatchObject({ metadata, aborted: false, inherits: false });
      // The deadline is in the server clock's ms (its arrival plus the time left the client sent).
      expect(r.timed.deadline).toEqual(expect.any(Number));
      expect(r.timed.remaining).toBeGreaterThan(0);
      expect(r.timed.remaining).toBeLessThanOrEqual(60_000);
      expect(r.metaOnly).toMatchObject({ deadline: null, remaining: null, metadata: { traceparent: metadata.traceparent } });
      expect(r.plain).toMatchObject({ deadline: null, remaining: null, metadata: {}, inherits: false });
    }
  });

  it('each call of a batch mixing plain calls and heads (a deadline, metadata, both) gets its own', async () => {
    const { calc } = await served(await pool());
    // All sent in one turn: the pool packs them into few batches, plain and headed calls interleaved.
    const kinds = ['plain', 'deadline', 'metadata', 'both', 'plain', 'plain', 'both', 'metadata'] as const;
    const sent = Array.from({ length: 96 }, (_, i) => {
      const kind = kinds[i % kinds.length]!;
      const metadata = kind === 'metadata' || kind === 'both' ? { 'x-call': String(i), ...(i % 3 === 0 ? { 'x-extra': 'é'.repeat(i) } : {}) } : undefined;
      // A minute apart: a deadline given to another call of the batch reads a minute off.
      const timeoutMs = kind === 'deadline' || kind === 'both' ? 60_000 * (i + 1) : undefined;
      return { kind, metadata, timeoutMs };
    });
    const got = await Promise.all(sent.map(({ metadata, timeoutMs }) => calc.head(undefined, { ...(metadata && { metadata }), ...(timeoutMs && { timeoutMs }) })));
    got.forEach((r, i) => {
      const { metadata, timeoutMs } = sent[i]!;
      expect(r.metadata).toEqual(metadata ?? {});
      if (timeoutMs === undefined) expect(r).toMatchObject({ deadline: null, remaining: null });
      else {
        expect(r.remaining).toBeGreaterThan(timeoutMs - 30_000);
        expect(r.remaining).toBeLessThanOrEqual(timeoutMs);
      }
    });
  });

  it('passes what is left of its deadline to a call it makes with { ctx }', async () => {
    const downstream = await served(inProcess());
    const { calc } = await served(await pool());
    const { left, down } = await calc.relay({ port: downstream.port, method: 'head' }, { timeoutMs: 60_000 });
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(60_000);
    // The downstream deadline is what the worker had left (sent rounded up to the ms), never more.
    expect(down.deadline).not.toBeNull();
    expect(down.remaining).toBeLessThanOrEqual(left! + 1);
  });

  it("passes its client's cancel on to a call it makes with { ctx }: the next server's handler is cancelled, no slot kept", async () => {
    const downstream = await served(inProcess());
    const p = await pool();
    const { calc } = await served(p);
    const heard = nextEvent();
    const ac = new AbortController();
    // A deadline past the test's timeout, which the call made with { ctx } takes in place of its
    // stream's 20 s default: only the cancel, through the worker's ctx, can end it downstream in time.
    const relayed = outcome(calc.relay({ port: downstream.port, method: 'untilCancelled', arg: 'down' }, { signal: ac.signal, timeoutMs: 120_000 }));
    await waitFor(() => downstream.server.stats().inFlight === 1, { what: 'the call made with { ctx } to be running downstream' });
    ac.abort();
    expect(await relayed).toMatchObject({ code: 'Cancelled' });
    expect(await heard).toBe('down Cancelled: Calc.untilCancelled: cancelled by the client');
    await waitFor(() => p.stats().inFlight === 0 && downstream.server.stats().inFlight === 0, { what: 'no call kept on either server' });
  });

  it('aborts its signal on a cancel frame, drops its answer and frees its worker slot', async () => {
    // One worker holding one call: the next call gets in only once the cancelled one's slot is free.
    const p = await pool({ maxInFlightPerWorker: 1 });
    const { calc } = await served(p);
    const heard = nextEvent();
    const ac = new AbortController();
    const cancelled = outcome(calc.untilCancelled('t1', { signal: ac.signal }));
    await waitFor(() => p.stats().inFlight === 1);
    const next = calc.add({ a: 1, b: 2 });
    await waitFor(() => p.stats().queued === 1);
    ac.abort();
    expect(await cancelled).toMatchObject({ code: 'Cancelled' });
    expect(await heard).toBe('t1 Cancelled: Calc.untilCancelled: cancelled by the client');
    // The handler never answers: the slot was freed by the cancel alone.
    expect(await next).toBe(3);
    expect(p.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('aborts its signal when the connection closes under a call with a signal, as in process; the slot is freed', async () => {
    const run = async (dispatch: Dispatch) => {
      const { calc, stream } = await served(dispatch);
      const heard = nextEvent();
      const call = outcome(calc.untilCancelled('t2', { signal: new AbortController().signal }));
      // Read by the server once the ping that follows it is answered.
      await stream.ping();
      stream.destroy();
      expect(await call).toMatchObject({ code: 'IO' });
      return heard;
    };
    const expected = await run(inProcess());
    expect(expected).toBe('t2 IO: Calc.untilCancelled: connection lost: the peer ended the connection');
    const p = await pool({ maxInFlightPerWorker: 1 });
    expect(await run(p)).toBe(expected);
    // The handler never answers: the slot was freed by the close alone.
    await waitFor(() => p.stats().inFlight === 0);
  });

  it('a connection lost under many calls with a signal, in a large pool: every handler is told, every slot freed', async () => {
    // 300 cancels at once against 512 places: found in one pass over the held calls (heldIds), not one search each.
    const p = await pool({ maxInFlightPerWorker: 512 });
    const { calc, stream } = await served(p);
    const events = new BroadcastChannel('skein-workers-test-events');
    cleanup.push(() => events.close());
    const heard = new Set<string>();
    events.onmessage = (e: MessageEvent) => heard.add(String(e.data).split(' ')[0]!);
    const calls = Array.from({ length: 300 }, (_, i) => outcome(calc.untilCancelled(`m${i}`, { signal: new AbortController().signal })));
    await waitFor(() => p.stats().inFlight === 300, { what: 'every call held by the worker' });
    stream.destroy();
    expect((await Promise.all(calls)).every((o) => (o as { code?: string }).code === 'IO')).toBe(true);
    await waitFor(() => heard.size === 300, { what: 'every handler told of the close' });
    await waitFor(() => p.stats().inFlight === 0, { what: 'every slot freed' });
  });

  it('aborts its signal with Timeout when its deadline passes, as in process; the slot is freed', async () => {
    const run = async (dispatch: Dispatch) => {
      const { calc } = await served(dispatch);
      const heard = nextEvent();
      expect(await outcome(calc.untilCancelled('t3', { timeoutMs: 200 }))).toMatchObject({ code: 'Timeout' });
      return heard;
    };
    const expected = await run(inProcess());
    expect(expected).toBe('t3 Timeout: Calc.untilCancelled: deadline passed');
    const p = await pool({ maxInFlightPerWorker: 1 });
    expect(await run(p)).toBe(expected);
    // The handler never answers: the slot was freed by the deadline alone.
    await waitFor(() => p.stats().inFlight === 0);
  });

  it('a handler that never answers (its thread reading on) is answered Timeout at handlerTimeoutMs, as in process; its place in the worker is freed', async () => {
    // A plain call (no deadline, no signal): nothing but the handler timeout can end it.
    const run = async (dispatch: Dispatch, after?: () => Promise<unknown>) => {
      const { calc } = await served(dispatch);
      const heard = nextEvent();
      const hung = outcome(calc.untilCancelled('t4'));
      const next = after?.();
      return { hung: await hung, heard: await heard, next: await next };
    };
    const expected = await run(createServiceDispatch({ ...calcOptions, codec: msgpackCodec, handlerTimeoutMs: HANDLER_TIMEOUT_MS }));
    expect(expected).toMatchObject({ hung: { code: 'Timeout', retry: 'idempotent' }, heard: 't4 Timeout: Calc.untilCancelled ran too long' });
    // One worker holding one call: the next call gets in only once the hung one's place is free.
    const p = await pool({ module: TIMED_MODULE, maxInFlightPerWorker: 1 });
    const got = await run(p, async () => {
      await waitFor(() => p.stats().inFlight === 1);
      const { calc } = await served(p);
      const next = calc.add({ a: 1, b: 2 });
      await waitFor(() => p.stats().queued === 1);
      return next;
    });
    expect(got).toEqual({ ...expected, next: 3 });
    expect(p.stats()).toMatchObject({ inFlight: 0, queued: 0, crashes: 0 });
  });

  it('a call cancelled while it waits in the queue gives up its place', async () => {
    const p = await pool({ maxInFlightPerWorker: 1, maxQueued: 1 });
    const { calc } = await served(p);
    const ac = new AbortController();
    const held = outcome(calc.untilCancelled('held', { signal: ac.signal }));
    await waitFor(() => p.stats().inFlight === 1);
    const queuedAc = new AbortController();
    const queued = outcome(calc.add({ a: 1, b: 1 }, { signal: queuedAc.signal }));
    await waitFor(() => p.stats().queued === 1);
    queuedAc.abort();
    expect(await queued).toMatchObject({ code: 'Cancelled' });
    // The queue holds one: the cancelled call must have left it for this one to be taken.
    const next = outcome(calc.add({ a: 2, b: 2 }));
    await waitFor(() => p.stats().queued === 1);
    ac.abort();
    expect(await held).toMatchObject({ code: 'Cancelled' });
    expect(await next).toEqual({ ok: 4 });
  });

  it('a call whose deadline passes while it waits in the queue reads Timeout and gives up its place', async () => {
    const p = await pool({ maxInFlightPerWorker: 1, maxQueued: 1 });
    const { calc } = await served(p);
    const ac = new AbortController();
    const held = outcome(calc.untilCancelled('held', { signal: ac.signal }));
    await waitFor(() => p.stats().inFlight === 1);
    const queued = outcome(calc.add({ a: 1, b: 1 }, { timeoutMs: 100 }));
    await waitFor(() => p.stats().queued === 1);
    expect(await queued).toMatchObject({ code: 'Timeout' });
    // The queue holds one: the timed-out call must have left it for this one to be taken.
    const next = outcome(calc.add({ a: 2, b: 2 }));
    await waitFor(() => p.stats().queued === 1);
    ac.abort(new Error('done holding'));
    expect(await held).toMatchObject({ code: 'Cancelled' });
    expect(await next).toEqual({ ok: 4 });
    expect(p.stats()).toMatchObject({ queued: 0, overloaded: 0 });
  });

  it("has its connection's kind, TLS identity and principal, as in process", async () => {
    const tls: TlsPair = { server: mtls(), client: clientTls(certs.client) };
    const serverOpts: Partial<RpcServerOptions> = {
      peers: { admit: (c) => c.identity?.subject === 'CN=test-client' && c.principal !== undefined },
      authenticate: ({ text }) => ({ principal: { name: text, roles: ['svc'] } }),
    };
    const run = async (dispatch: Dispatch) => (await served(dispatch, serverOpts, tls, 'billing')).calc.head();
    const expected = { kind: 'peer', identity: 'CN=test-client', principal: { name: 'billing', roles: ['svc'] } };
    expect(await run(inProcess())).toMatchObject(expected);
    expect(await run(await pool())).toMatchObject(expected);
  });
});
