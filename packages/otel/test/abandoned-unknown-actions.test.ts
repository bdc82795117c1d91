import type { MetricData, SumMetricData } from '@opentelemetry/sdk-metrics';
import { createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger } from '@skein/core';
import type { ClientStream, Dispatch, RpcServer, ServerRequest } from '@skein/stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PROVISIONAL } from '../src/call-recorder.js';
import { sum, telemetry } from './otel-harness.js';
import { startTraced, stopTraced } from './traced-server.js';

/**
 * A peer that names made-up actions and cancels each call (or lets its deadline pass) before
 * the dispatch refuses it. A WorkerPool refuses unknown actions from its worker, and skips a
 * call cancelled while it waits in its queue: such a call ends with no answer that says the
 * action does not exist. Measured before the fix with a real WorkerPool (one worker, Calc module):
 * 300 such calls made 172 `skein.rpc.server.calls` series.
 */
const Calc = service('Calc', { add: method<{ a: number; b: number }, number>() });
const calc = implement(Calc, { add: ({ a, b }) => a + b });
const SERVER_METRICS = ['skein.rpc.server.calls', 'skein.rpc.server.errors', 'skein.rpc.server.in_flight', 'rpc.server.duration', 'rpc.server.request.size', 'rpc.server.response.size'];

/** A dispatch that holds every request, as a pool whose workers are all busy, until `release`. */
class HeldDispatch implements Dispatch {
  private held: ServerRequest[] = [];
  private readonly inner = createServiceDispatch({ codec: msgpackCodec, services: [calc], logger: silentLogger });
  dispatch(req: ServerRequest): void {
    this.held.push(req);
  }
  /** Hands the held requests on (their handlers or refusals answer them). */
  release(): void {
    for (const req of this.held.splice(0)) this.inner.dispatch(req);
  }
  /** Forgets the held requests, as a pool skips the calls cancelled in its queue. */
  skip(): void {
    this.held = [];
  }
}

/** Calls `Calc.<prefix><i>` for each i, each given up once the server holds it: cancelled, or past its deadline. */
async function abandon(peer: ClientStream, prefix: string, from: number, to: number, how: 'cancel' | 'deadline'): Promise<void> {
  for (let i = from; i < to; i++) {
    const abort = new AbortController();
    const call = peer.call(`Calc.${prefix}${i}`, msgpackCodec.encode(0), how === 'cancel' ? { signal: abort.signal } : { timeoutMs: 200 });
    await peer.ping(); // the call went before the ping: the server holds it
    abort.abort();
    await expect(call).rejects.toMatchObject({ code: how === 'cancel' ? ErrorCode.Cancelled : ErrorCode.Timeout });
  }
}

/** The made-up names each server metric has a series of. */
function madeUpSeries(all: MetricData[], prefix: string): Record<string, string[]> {
  const madeUp = new RegExp(`^${prefix}\\d+$`);
  return Object.fromEntries(
    SERVER_METRICS.map((name) => {
      const points = (all.find((m) => m.descriptor.name === name) as SumMetricData | undefined)?.dataPoints ?? [];
      return [name, [...new Set(points.map((p) => String(p.attributes['rpc.method'])).filter((m) => madeUp.test(m)))]];
    }),
  );
}

/** A fresh traced server behind a HeldDispatch (a recorder that has learnt nothing yet), and a peer. */
function heldServer() {
  const t = telemetry();
  const held = new HeldDispatch();
  const s: { server?: RpcServer; peer?: ClientStream } = {};
  beforeAll(async () => void Object.assign(s, await startTraced(held, t.otel)));
  afterAll(() => stopTraced(s));
  return { held, collect: t.collect, peer: () => s.peer! };
}

describe('calls of made-up actions given up before any refusal', () => {
  const { held, collect, peer } = heldServer();

  it('make at most MAX_PROVISIONAL series, however many names the peer makes up', async () => {
    await abandon(peer(), 'a', 0, MAX_PROVISIONAL + 50, 'cancel');
    held.skip();
    await peer().ping();
    const all = await collect();
    for (const [name, names] of Object.entries(madeUpSeries(all, 'a'))) expect(names.length, name).toBeLessThanOrEqual(MAX_PROVISIONAL);
    expect(sum(all, 'skein.rpc.server.calls', { 'rpc.method': '_OTHER', 'error.type': 'Cancelled' })).toBe(50);
    expect(sum(all, 'skein.rpc.server.in_flight', {})).toBe(0);
  });
});

describe('calls of made-up actions given up after the dispatch refused one late', () => {
  const { held, collect, peer } = heldServer();

  it('add no series, cancelled or past their deadline', async () => {
    const refused = peer().call('Calc.b0', msgpackCodec.encode(0));
    await peer().ping();
    held.release();
    await expect(refused).rejects.toMatchObject({ code: ErrorCode.Method });
    await abandon(peer(), 'b', 1, 21, 'cancel');
    await abandon(peer(), 'b', 21, 26, 'deadline');
    // A call past its deadline ends on the server at its own deadline or the client's cancel: wait for all.
    await expect.poll(async () => sum(await collect(), 'skein.rpc.server.calls', { 'rpc.method': '_OTHER' }), { timeout: 10_000 }).toBe(26);
    held.skip();
    const all = await collect();
    // Calc.b0's call was in flight under its name before its refusal showed that the dispatch refuses late.
    expect(madeUpSeries(all, 'b')).toEqual(Object.fromEntries(SERVER_METRICS.map((name) => [name, name === 'skein.rpc.server.in_flight' ? ['b0'] : []])));
    expect(sum(all, 'skein.rpc.server.in_flight', {})).toBe(0);
  });

  it("still records a method's calls under its name once it answered, a cancelled one too", async () => {
    const add = peer().call('Calc.add', msgpackCodec.encode({ a: 1, b: 2 }));
    await peer().ping();
    held.release();
    await add;
    const abort = new AbortController();
    const given = peer().call('Calc.add', msgpackCodec.encode({ a: 1, b: 2 }), { signal: abort.signal });
    await peer().ping();
    abort.abort();
    await expect(given).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    await peer().ping();
    held.skip();
    const all = await collect();
    expect(sum(all, 'skein.rpc.server.calls', { 'rpc.service': 'Calc', 'rpc.method': 'add' })).toBe(2);
    expect(sum(all, 'skein.rpc.server.calls', { 'rpc.method': 'add', 'error.type': 'Cancelled' })).toBe(1);
  });
});
