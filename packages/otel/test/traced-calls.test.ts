import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { MetricData } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Health, HealthReporter, createClient, createServiceDispatch, healthService, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { codeErrors, ErrorCode, formatAddress, RpcError, silentLogger, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, createRouter, RpcServer, type Caller, type CallOptions, type Dispatch } from '@skein/stream';
import { types } from 'node:util';
import { deferred } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tracedCaller, tracedDispatch } from '../src/index.js';
import { histogram, metric, sum, telemetry } from './otel-harness.js';

const transport = tcpTransport(nodeRuntime);

const { spans, tracerProvider, otel, collect } = telemetry();

class DivideByZero extends Error {}
const Calc = service('Calc', {
  add: method<{ a: number; b: number }, number>(),
  div: method<{ a: number; b: number }, number>().throws(codeErrors({ 1: DivideByZero })),
  check: method<number, number>(),
  /** Calls Calc.add on the server the test gives it: a call made inside a handler. */
  relay: method<{ a: number; b: number }, number>(),
  wait: method<void, void>(),
});

let gate = deferred<void>();
let relayTo: ReturnType<typeof createClient<typeof Calc>> | undefined;

const calc = implement(Calc, {
  add: ({ a, b }) => a + b,
  div: ({ a, b }) => {
    if (b === 0) throw new DivideByZero();
    return a / b;
  },
  check: (n) => {
    if (n < 0) throw new RpcError(ErrorCode.InvalidArgument, 'negative');
    return n;
  },
  relay: (arg) => relayTo!.add(arg),
  wait: () => gate.promise,
});

interface Peer {
  server: RpcServer;
  stream: ClientStream;
  address: string;
}

const peers: Peer[] = [];
async function serve(dispatch: Dispatch): Promise<Peer> {
  const server = new RpcServer({ dispatch });
  const address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
  const stream = await ClientStream.connect({ transport, address });
  const peer = { server, stream, address };
  peers.push(peer);
  return peer;
}

let traced: Peer;
let client: ReturnType<typeof createClient<typeof Calc>>;
beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  traced = await serve(tracedDispatch(createServiceDispatch({ codec: msgpackCodec, services: [calc], logger: silentLogger }), otel));
  client = createClient(Calc, tracedCaller(traced.stream, otel), { codec: msgpackCodec });
});
afterAll(async () => {
  for (const p of peers) {
    p.stream.destroy();
    await p.server.close();
  }
  context.disable();
});
afterEach(() => spans.reset());

const byKind = (kind: SpanKind): ReadableSpan[] => spans.getFinishedSpans().filter((s) => s.kind === kind);
const one = (kind: SpanKind): ReadableSpan => {
  const found = byKind(kind);
  expect(found).toHaveLength(1);
  return found[0]!;
};

describe('spans', () => {
  it('records a client and a server span per call, the server continuing the client trace', async () => {
    expect(await client.add({ a: 2, b: 3 })).toBe(5);
    const c = one(SpanKind.CLIENT);
    const s = one(SpanKind.SERVER);
    expect(c.name).toBe('Calc/add');
    expect(s.name).toBe('Calc/add');
    const [host, port] = traced.address.split(':');
    expect(c.attributes).toEqual({
      'rpc.system': 'skein',
      'rpc.service': 'Calc',
      'rpc.method': 'add',
      'server.address': host,
      'server.port': Number(port),
      'network.transport': 'tcp',
    });
    expect(s.attributes).toMatchObject({ 'rpc.system': 'skein', 'rpc.service': 'Calc', 'rpc.method': 'add', 'network.peer.address': '127.0.0.1', 'rpc.skein.transport': 'tcp' });
    expect(s.attributes['network.peer.port']).toBeTypeOf('number');
    // The trace context travelled in the call's metadata.
    expect(s.spanContext().traceId).toBe(c.spanContext().traceId);
    expect(s.parentSpanContext?.spanId).toBe(c.spanContext().spanId);
    expect(c.status.code).toBe(SpanStatusCode.UNSET);
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("names a dotted service's call as its server reads it: the service up to the last dot", async () => {
    const reporter = new HealthReporter();
    const peer = await serve(tracedDispatch(createServiceDispatch({ codec: msgpackCodec, services: [healthService(reporter)], logger: silentLogger }), otel));
    const health = createClient(Health, tracedCaller(peer.stream, otel), { codec: msgpackCodec });
    expect(await health.check({ service: '' })).toEqual({ status: 'serving' });
    for (const kind of [SpanKind.CLIENT, SpanKind.SERVER]) {
      const s = one(kind);
      expect(s.name).toBe('skein.health.Health/check');
      expect(s.attributes).toMatchObject({ 'rpc.service': 'skein.health.Health', 'rpc.method': 'check' });
    }
  });

  it('makes the client span a child of the active span', async () => {
    const tracer = tracerProvider.getTracer('test');
    const outer = tracer.startSpan('outer');
    await context.with(trace.setSpan(context.active(), outer), () => client.add({ a: 1, b: 1 }));
    outer.end();
    expect(one(SpanKind.CLIENT).parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
  });

  it('runs the handler inside the server span: its own calls are children of it', async () => {
    const downstream = await serve(tracedDispatch(createServiceDispatch({ codec: msgpackCodec, services: [calc], logger: silentLogger }), otel));
    relayTo = createClient(Calc, tracedCaller(downstream.stream, otel), { codec: msgpackCodec });
    expect(await client.relay({ a: 4, b: 5 })).toBe(9);
    const finished = spans.getFinishedSpans();
    const find = (kind: SpanKind, name: string): ReadableSpan => finished.find((s) => s.kind === kind && s.name === name)!;
    const relayServer = find(SpanKind.SERVER, 'Calc/relay');
    const addClient = find(SpanKind.CLIENT, 'Calc/add');
    const addServer = find(SpanKind.SERVER, 'Calc/add');
    expect(addClient.parentSpanContext?.spanId).toBe(relayServer.spanContext().spanId);
    expect(addServer.parentSpanContext?.spanId).toBe(addClient.spanContext().spanId);
    expect(new Set(finished.map((s) => s.spanContext().traceId)).size).toBe(1);
  });

  it("marks a method's own error on both spans, as an error only on the client's", async () => {
    await expect(client.div({ a: 1, b: 0 })).rejects.toBeInstanceOf(DivideByZero);
    const c = one(SpanKind.CLIENT);
    const s = one(SpanKind.SERVER);
    for (const span of [c, s]) expect(span.attributes).toMatchObject({ 'error.type': 'custom', 'rpc.skein.custom_error': 1 });
    expect(c.status.code).toBe(SpanStatusCode.ERROR);
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("names a built-in error by code; the server's span is an error only for its own faults", async () => {
    await expect(client.check(-1)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(one(SpanKind.SERVER).status.code).toBe(SpanStatusCode.UNSET);
    expect(one(SpanKind.CLIENT).attributes).toMatchObject({ 'error.type': 'InvalidArgument', 'rpc.skein.error_code': ErrorCode.InvalidArgument });
    spans.reset();
    const Other = service('Calc', { mul: method<number, number>() });
    await expect(createClient(Other, tracedCaller(traced.stream, otel), { codec: msgpackCodec }).mul(2)).rejects.toMatchObject({ code: ErrorCode.Method });
    const s = one(SpanKind.SERVER);
    expect(s.attributes).toMatchObject({ 'error.type': 'Method', 'rpc.skein.error_code': ErrorCode.Method, 'rpc.method': 'mul' });
    expect(s.status.code).toBe(SpanStatusCode.ERROR);
    expect(one(SpanKind.CLIENT).status.code).toBe(SpanStatusCode.ERROR);
  });

  it('ends the server span of a dispatch that throws, as Internal', async () => {
    const p = await serve(
      tracedDispatch(
        {
          dispatch() {
            throw new Error('broken dispatch');
          },
        },
        otel,
      ),
    );
    await expect(p.stream.call('Any.thing')).rejects.toMatchObject({ code: ErrorCode.Internal });
    const s = one(SpanKind.SERVER);
    expect(s.attributes).toMatchObject({ 'error.type': 'Internal', 'rpc.skein.error_code': ErrorCode.Internal });
    expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: 'dispatch threw: broken dispatch' });
  });

  it('ends the server span when the client cancels the call, once', async () => {
    gate = deferred<void>();
    const abort = new AbortController();
    const call = client.wait(undefined, { signal: abort.signal }).catch((e: unknown) => e);
    await waitForInFlight('server', 1);
    abort.abort();
    expect(await call).toMatchObject({ code: ErrorCode.Cancelled });
    await waitForInFlight('server', 0);
    gate.resolve(); // the handler's late answer is dropped, and ends no second span
    expect(await client.add({ a: 0, b: 0 })).toBe(0);
    const waits = spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER && s.name === 'Calc/wait');
    expect(waits).toHaveLength(1);
    expect(waits[0]!.attributes).toMatchObject({ 'error.type': 'Cancelled' });
  });

  it('ends a plain call whose connection was lost as IO, though its handler answers after', async () => {
    gate = deferred<void>();
    const p = await serve(tracedDispatch(createServiceDispatch({ codec: msgpackCodec, services: [calc], logger: silentLogger }), otel));
    // Untraced, no signal, no timeout: a plain call, with no head and no signal of its own on the server.
    const call = createClient(Calc, p.stream, { codec: msgpackCodec }).wait().catch((e: unknown) => e);
    await waitForInFlight('server', 1);
    const conn = p.server.openConnections()[0]!;
    const lost = new Promise((resolve) => conn.signal.addEventListener('abort', resolve));
    p.stream.destroy('gone');
    await call;
    await lost;
    gate.resolve(); // the answer goes nowhere
    await expect.poll(() => byKind(SpanKind.SERVER).length).toBe(1);
    expect(one(SpanKind.SERVER).attributes).toMatchObject({ 'error.type': 'IO', 'rpc.method': 'wait' });
    await waitForInFlight('server', 0);
  });
});

/** Calls `Meta.read` through `caller` and waits for its answer. */
const read = (caller: Caller, metadata?: Record<string, string>): Promise<void> =>
  new Promise((resolve, reject) => caller.send('Meta.read', new Uint8Array(0), metadata ? { metadata } : {}, (err) => (err ? reject(err) : resolve())));

describe('trace context on the wire', () => {
  it('sends traceparent in the metadata with an SDK, and nothing without one', async () => {
    const seen: Record<string, string>[] = [];
    const p = await serve(createRouter({ 'Meta.read': (req) => void seen.push({ ...req.metadata }) }));
    await read(tracedCaller(p.stream, otel));
    await read(p.stream);
    // No provider and no propagator given: the global no-op API.
    await read(tracedCaller(p.stream));
    expect(seen).toHaveLength(3);
    expect(seen[0]!.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(seen[1]).toEqual({});
    expect(seen[2]).toEqual({});
  });

  it('passes calls straight through with no SDK: the same options, the request itself', async () => {
    const api = createServiceDispatch({ codec: msgpackCodec, services: [calc], logger: silentLogger });
    const proxied: boolean[] = [];
    const p = await serve(tracedDispatch({ dispatch: (req) => (proxied.push(types.isProxy(req)), api.dispatch(req)) }));
    const sent: CallOptions[] = [];
    const recording: Caller = { send: (a, m, o, n) => (sent.push(o), p.stream.send(a, m, o, n)) };
    const bare = createClient(Calc, tracedCaller(recording), { codec: msgpackCodec });
    const mine: CallOptions = { timeoutMs: 5000 };
    expect(await bare.add({ a: 20, b: 22 }, mine)).toBe(42);
    await expect(bare.div({ a: 1, b: 0 })).rejects.toBeInstanceOf(DivideByZero);
    expect(sent[0]).toBe(mine);
    expect(proxied).toEqual([false, false]);
    expect(spans.getFinishedSpans()).toEqual([]);
  });

  it('records spans without metrics when only a tracer is given', async () => {
    const tracesOnly = { tracerProvider, propagator: otel.propagator };
    const p = await serve(tracedDispatch(createServiceDispatch({ codec: msgpackCodec, services: [calc], logger: silentLogger }), tracesOnly));
    const before = sum(await collect(), 'skein.rpc.client.calls', {});
    expect(await createClient(Calc, tracedCaller(p.stream, tracesOnly), { codec: msgpackCodec }).add({ a: 1, b: 2 })).toBe(3);
    expect(one(SpanKind.SERVER).parentSpanContext?.spanId).toBe(one(SpanKind.CLIENT).spanContext().spanId);
    expect(sum(await collect(), 'skein.rpc.client.calls', {})).toBe(before);
  });

  it("keeps the caller's own metadata beside the trace context", async () => {
    const seen: Record<string, string>[] = [];
    const p = await serve(createRouter({ 'Meta.read': (req) => void seen.push({ ...req.metadata }) }));
    await read(tracedCaller(p.stream, otel), { tenant: 'acme' });
    expect(seen[0]).toMatchObject({ tenant: 'acme', traceparent: expect.stringMatching(/^00-/) });
  });
});

async function waitForInFlight(side: 'client' | 'server', n: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (sum(await collect(), `skein.rpc.${side}.in_flight`, { 'rpc.method': 'wait' }) === n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${side} in_flight never reached ${n}`);
}

describe('metrics', () => {
  it('counts calls and errors by code, times them and sizes their payloads', async () => {
    const before = await collect();
    const calls0 = sum(before, 'skein.rpc.client.calls', { 'rpc.method': 'add' });
    const server0 = sum(before, 'skein.rpc.server.calls', { 'rpc.method': 'div' });
    await client.add({ a: 1, b: 2 });
    await client.add({ a: 100_000, b: 2 });
    await client.div({ a: 1, b: 0 }).catch(() => {});
    await client.div({ a: 1, b: 0 }).catch(() => {});
    await client.div({ a: 4, b: 2 });
    const all = await collect();
    expect(sum(all, 'skein.rpc.client.calls', { 'rpc.method': 'add' }) - calls0).toBe(2);
    expect(sum(all, 'skein.rpc.server.calls', { 'rpc.method': 'div' }) - server0).toBe(3);
    expect(sum(all, 'skein.rpc.client.errors', { 'rpc.method': 'div', 'error.type': 'custom' })).toBeGreaterThanOrEqual(2);
    expect(sum(all, 'skein.rpc.server.errors', { 'rpc.method': 'div', 'error.type': 'custom' })).toBeGreaterThanOrEqual(2);
    expect(sum(all, 'skein.rpc.client.errors', { 'rpc.method': 'add' })).toBe(0);
    expect(histogram(all, 'rpc.client.duration', { 'rpc.method': 'add' }).count).toBe(sum(all, 'skein.rpc.client.calls', { 'rpc.method': 'add' }));
    expect(metric(all, 'rpc.client.duration').descriptor.unit).toBe('ms');
  });

  it('sizes request and reply payloads in bytes, blobs included', async () => {
    const sizeOf = (all: MetricData[], name: string): number => histogram(all, name, { 'rpc.method': 'check' }).sum;
    const names = ['rpc.client.request.size', 'rpc.client.response.size', 'rpc.server.request.size', 'rpc.server.response.size'];
    const before = await collect();
    const caller = tracedCaller(traced.stream, otel);
    const arg = msgpackCodec.encode(70_000); // 5 bytes, and the reply is the same number
    await new Promise<void>((resolve, reject) => caller.send('Calc.check', arg, { blob: new Uint8Array(10) }, (err) => (err ? reject(err) : resolve())));
    const after = await collect();
    expect(names.map((n) => sizeOf(after, n) - sizeOf(before, n))).toEqual([5 + 10, 5, 5 + 10, 5]);
    expect(metric(after, 'rpc.server.request.size').descriptor.unit).toBe('By');
  });

  it('counts calls in flight on both sides while they wait', async () => {
    gate = deferred<void>();
    const call = client.wait();
    await waitForInFlight('server', 1);
    expect(sum(await collect(), 'skein.rpc.client.in_flight', { 'rpc.method': 'wait' })).toBe(1);
    gate.resolve();
    await call;
    const all = await collect();
    expect(sum(all, 'skein.rpc.client.in_flight', { 'rpc.method': 'wait' })).toBe(0);
    expect(sum(all, 'skein.rpc.server.in_flight', { 'rpc.method': 'wait' })).toBe(0);
  });
});

describe('a carrier that throws instead of notifying', () => {
  // Any Caller may throw at once (a user's carrier refusing a call): unwrapped the throw is the
  // caller's; wrapped, it must stay one, and the call must not stay open in the span and in_flight.
  const refusal = new RangeError('refused by the carrier');
  const throwing = {
    send(action: string | number, msg: Uint8Array, options: CallOptions, notify: Parameters<Caller['send']>[3]): void {
      if (action === 'Calc.wait') throw refusal;
      traced.stream.send(action, msg, options, notify);
    },
    openStream(): never {
      throw refusal;
    },
  };

  it('ends the client span and leaves in_flight when send throws, and the throw goes on', async () => {
    const wrapped = tracedCaller(throwing, otel);
    expect(() => wrapped.send('Calc.wait', new Uint8Array(0), {}, () => {})).toThrow(refusal);
    const s = one(SpanKind.CLIENT);
    expect(s.name).toBe('Calc/wait');
    expect(s.attributes['error.type']).toBe('RangeError');
    expect(s.status.code).toBe(SpanStatusCode.ERROR);
    const all = await collect();
    expect(sum(all, 'skein.rpc.client.in_flight', { 'rpc.method': 'wait' })).toBe(0);
    expect(sum(all, 'skein.rpc.client.errors', { 'rpc.method': 'wait', 'error.type': 'RangeError' })).toBe(1);
  });

  it('ends the stream span when openStream throws, and the throw goes on', async () => {
    const wrapped = tracedCaller(throwing, otel);
    expect(() => wrapped.openStream('Calc.feed')).toThrow(refusal);
    const s = one(SpanKind.CLIENT);
    expect(s.name).toBe('Calc/feed');
    expect(s.attributes['error.type']).toBe('RangeError');
    expect(sum(await collect(), 'skein.rpc.client.in_flight', { 'rpc.method': 'feed' })).toBe(0);
  });
});

describe('a carrier that forwards a call, then throws', () => {
  // A carrier whose own bookkeeping fails after it handed the call on (a real stream here):
  // the call is answered later all the same. Its span ends once, and in_flight is left once.
  const bookkeeping = new RangeError('the carrier failed after sending');
  const forwardsThenThrows = {
    send(action: string | number, msg: Uint8Array, options: CallOptions, notify: Parameters<Caller['send']>[3]): void {
      traced.stream.send(action, msg, options, notify);
      throw bookkeeping;
    },
  };

  it('ends the span and the call once, when the answer comes after the throw', async () => {
    const before = await collect();
    const calls0 = sum(before, 'skein.rpc.client.calls', { 'rpc.method': 'check' });
    const answered = deferred<void>();
    const wrapped = tracedCaller(forwardsThenThrows, otel);
    expect(() => wrapped.send('Calc.check', msgpackCodec.encode(5), {}, () => answered.resolve())).toThrow(bookkeeping);
    await answered.promise;
    const all = await collect();
    expect(byKind(SpanKind.CLIENT).filter((s) => s.name === 'Calc/check')).toHaveLength(1);
    expect(sum(all, 'skein.rpc.client.in_flight', { 'rpc.method': 'check' })).toBe(0);
    expect(sum(all, 'skein.rpc.client.calls', { 'rpc.method': 'check' }) - calls0).toBe(1);
  });
});
