import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { bidiStream, clientStream, createClient, createCluster, createServiceDispatch, implement, method, serverStream, service, type CallerTarget } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, formatAddress, silentLogger, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer, type CallOptions, type StreamCaller } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tracedCaller, tracedDispatch } from '../src/index.js';
import { histogram, sum, telemetry } from './otel-harness.js';

const transport = tcpTransport(nodeRuntime);
const { spans, otel, collect } = telemetry();

const Feed = service('Feed', {
  count: serverStream<{ to: number }, number>(),
  sum: clientStream<number, number>(),
  double: bidiStream<number, number>(),
  forever: serverStream<void, number>(),
  /** Two items, then the handler throws. */
  broken: serverStream<void, number>(),
  add: method<{ a: number; b: number }, number>(),
});

let foreverEnded = 0;
const feed = implement(Feed, {
  async *count({ to }) {
    for (let i = 1; i <= to; i++) yield i;
  },
  async sum(values) {
    let total = 0;
    for await (const v of values) total += v;
    return total;
  },
  async *double(values) {
    for await (const v of values) yield v * 2;
  },
  async *forever() {
    try {
      for (let i = 0; ; i++) yield i;
    } finally {
      foreverEnded++;
    }
  },
  async *broken() {
    yield 1;
    yield 2;
    throw new Error('broken mid-stream');
  },
  add: ({ a, b }) => a + b,
});

let server: RpcServer;
let address: string;
let stream: ClientStream;
let client: ReturnType<typeof createClient<typeof Feed>>;
beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  server = new RpcServer({ dispatch: tracedDispatch(createServiceDispatch({ codec: msgpackCodec, services: [feed], logger: silentLogger }), otel) });
  address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
  stream = await ClientStream.connect({ transport, address });
  client = createClient(Feed, tracedCaller(stream, otel), { codec: msgpackCodec });
});
afterAll(async () => {
  stream.destroy();
  await server.close();
  context.disable();
});
afterEach(() => spans.reset());

const finished = (kind: SpanKind, name: string): ReadableSpan[] => spans.getFinishedSpans().filter((s) => s.kind === kind && s.name === name);
/** The one span of its kind and name; the server's may end a little after the client's answer, so it is waited for. */
async function one(kind: SpanKind, name: string): Promise<ReadableSpan> {
  await expect.poll(() => finished(kind, name).length).toBe(1);
  return finished(kind, name)[0]!;
}
const messages = (s: ReadableSpan, type: 'SENT' | 'RECEIVED') => s.events.filter((e) => e.name === 'rpc.message' && e.attributes?.['rpc.message.type'] === type);

describe('a span per stream', () => {
  it('gives a server stream a client and a server span, the trace carried in the open, items counted and sized', async () => {
    const got: number[] = [];
    for await (const v of await client.count({ to: 5 })) got.push(v);
    expect(got).toEqual([1, 2, 3, 4, 5]);
    const c = await one(SpanKind.CLIENT, 'Feed/count');
    const s = await one(SpanKind.SERVER, 'Feed/count');
    // The open's metadata carried the client span's context.
    expect(s.spanContext().traceId).toBe(c.spanContext().traceId);
    expect(s.parentSpanContext?.spanId).toBe(c.spanContext().spanId);
    expect(c.attributes).toMatchObject({ 'rpc.system': 'skein', 'rpc.service': 'Feed', 'rpc.method': 'count', 'rpc.skein.stream.items_sent': 0, 'rpc.skein.stream.items_received': 5 });
    expect(s.attributes).toMatchObject({ 'rpc.method': 'count', 'rpc.skein.stream.items_sent': 5, 'rpc.skein.stream.items_received': 0 });
    // msgpack's 1..5 are one byte each.
    const received = messages(c, 'RECEIVED').map((e) => e.attributes);
    expect(received).toEqual([1, 2, 3, 4, 5].map((id) => ({ 'rpc.message.type': 'RECEIVED', 'rpc.message.id': id, 'rpc.message.uncompressed_size': 1 })));
    expect(messages(s, 'SENT').map((e) => e.attributes?.['rpc.message.id'])).toEqual([1, 2, 3, 4, 5]);
    expect(messages(c, 'SENT')).toEqual([]);
    expect([c.status.code, s.status.code]).toEqual([SpanStatusCode.UNSET, SpanStatusCode.UNSET]);
  });

  it('counts a client stream and both ways on each side', async () => {
    expect(await client.sum([1, 2, 3, 4] as unknown as AsyncIterable<number>)).toBe(10);
    const c = await one(SpanKind.CLIENT, 'Feed/sum');
    const s = await one(SpanKind.SERVER, 'Feed/sum');
    expect(c.attributes).toMatchObject({ 'rpc.skein.stream.items_sent': 4, 'rpc.skein.stream.items_received': 0 });
    expect(s.attributes).toMatchObject({ 'rpc.skein.stream.items_sent': 0, 'rpc.skein.stream.items_received': 4 });
    expect(messages(s, 'RECEIVED')).toHaveLength(4);

    const got: number[] = [];
    for await (const v of await client.double([1, 2, 3] as unknown as AsyncIterable<number>)) got.push(v);
    expect(got).toEqual([2, 4, 6]);
    const bc = await one(SpanKind.CLIENT, 'Feed/double');
    const bs = await one(SpanKind.SERVER, 'Feed/double');
    expect(bc.attributes).toMatchObject({ 'rpc.skein.stream.items_sent': 3, 'rpc.skein.stream.items_received': 3 });
    expect(bs.attributes).toMatchObject({ 'rpc.skein.stream.items_sent': 3, 'rpc.skein.stream.items_received': 3 });
  });

  it('keeps to messageEvents events each way, and still counts every item', async () => {
    const capped = createClient(Feed, tracedCaller(stream, { ...otel, messageEvents: 2 }), { codec: msgpackCodec });
    let n = 0;
    for await (const _ of await capped.count({ to: 7 })) n++;
    expect(n).toBe(7);
    const c = await one(SpanKind.CLIENT, 'Feed/count');
    expect(c.attributes['rpc.skein.stream.items_received']).toBe(7);
    expect(messages(c, 'RECEIVED').map((e) => e.attributes?.['rpc.message.id'])).toEqual([1, 2]);
  });

  it('records a cancel on both spans: an error for the client, not a fault of the server', async () => {
    const ended = foreverEnded;
    let n = 0;
    for await (const _ of await client.forever()) if (++n === 3) break; // breaking out cancels the stream
    const c = await one(SpanKind.CLIENT, 'Feed/forever');
    const s = await one(SpanKind.SERVER, 'Feed/forever');
    expect(c.attributes).toMatchObject({ 'error.type': 'Cancelled', 'rpc.skein.error_code': ErrorCode.Cancelled });
    expect(c.attributes['rpc.skein.stream.items_received']).toBeGreaterThanOrEqual(3);
    expect(c.status.code).toBe(SpanStatusCode.ERROR);
    expect(s.attributes).toMatchObject({ 'error.type': 'Cancelled' });
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
    await expect.poll(() => foreverEnded).toBe(ended + 1);
    const all = await collect();
    expect(sum(all, 'skein.rpc.client.in_flight', { 'rpc.method': 'forever' })).toBe(0);
    expect(sum(all, 'skein.rpc.server.in_flight', { 'rpc.method': 'forever' })).toBe(0);
  });

  it("records a handler's failure mid-stream as the server's fault, with the items that went before", async () => {
    const got: number[] = [];
    const read = async (): Promise<void> => {
      for await (const v of await client.broken()) got.push(v);
    };
    await expect(read()).rejects.toMatchObject({ code: ErrorCode.Internal });
    expect(got).toEqual([1, 2]);
    const c = await one(SpanKind.CLIENT, 'Feed/broken');
    const s = await one(SpanKind.SERVER, 'Feed/broken');
    for (const span of [c, s]) {
      expect(span.attributes).toMatchObject({ 'error.type': 'Internal', 'rpc.skein.error_code': ErrorCode.Internal });
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
    }
    expect(c.attributes['rpc.skein.stream.items_received']).toBe(2);
    expect(s.attributes['rpc.skein.stream.items_sent']).toBe(2);
  });
});

describe('stream metrics', () => {
  it('records items per stream each way, each item sized, and the stream as a call', async () => {
    const before = await collect();
    await client.sum([5, 6, 7] as unknown as AsyncIterable<number>);
    for await (const _ of await client.count({ to: 4 })) void _;
    await one(SpanKind.CLIENT, 'Feed/count');
    await one(SpanKind.SERVER, 'Feed/count');
    const after = await collect();
    const delta = (name: string, m: string) => {
      const [a, b] = [histogram(after, name, { 'rpc.method': m }), histogram(before, name, { 'rpc.method': m })];
      return { count: a.count - b.count, sum: a.sum - b.sum };
    };
    for (const side of ['client', 'server']) {
      // Messages per RPC, as the conventions count them: the opening request and the answer too.
      expect(delta(`rpc.${side}.requests_per_rpc`, 'sum'), side).toEqual({ count: 1, sum: 4 });
      expect(delta(`rpc.${side}.responses_per_rpc`, 'sum'), side).toEqual({ count: 1, sum: 1 });
      expect(delta(`rpc.${side}.requests_per_rpc`, 'count'), side).toEqual({ count: 1, sum: 1 });
      expect(delta(`rpc.${side}.responses_per_rpc`, 'count'), side).toEqual({ count: 1, sum: 5 });
      // The opening request and three one-byte items; the reply 5+6+7 = 18, one byte.
      expect(delta(`rpc.${side}.request.size`, 'sum'), side).toEqual({ count: 4, sum: 3 });
      expect(delta(`rpc.${side}.response.size`, 'sum'), side).toEqual({ count: 1, sum: 1 });
      // One size per message: as many as the messages per RPC counted.
      for (const m of ['sum', 'count']) {
        expect(delta(`rpc.${side}.request.size`, m).count, `${side} ${m}`).toBe(delta(`rpc.${side}.requests_per_rpc`, m).sum);
        expect(delta(`rpc.${side}.response.size`, m).count, `${side} ${m}`).toBe(delta(`rpc.${side}.responses_per_rpc`, m).sum);
      }
      expect(sum(after, `skein.rpc.${side}.calls`, { 'rpc.method': 'sum' }) - sum(before, `skein.rpc.${side}.calls`, { 'rpc.method': 'sum' }), side).toBe(1);
    }
  });
});

describe('without an SDK', () => {
  it('opens the stream untouched: the same options, the carrier’s own StreamCall', async () => {
    const seen: CallOptions[] = [];
    const recording: StreamCaller = {
      send: (a, m, o, n) => stream.send(a, m, o, n),
      openStream: (a, m, o) => (seen.push(o!), stream.openStream(a, m, o)),
    };
    const bare = tracedCaller(recording);
    const mine: CallOptions = { timeoutMs: 5000 };
    const s = bare.openStream('Feed.count', msgpackCodec.encode({ to: 2 }), mine);
    let n = 0;
    for await (const _ of s) n++;
    expect(n).toBe(2);
    expect(seen).toEqual([mine]);
    expect(seen[0]).toBe(mine);
    expect(Object.hasOwn(s, 'write') || Object.hasOwn(s, 'received')).toBe(false);
    // A carrier that cannot open streams gives a wrapper that cannot either.
    expect('openStream' in tracedCaller({ send: (a, m, o, n) => stream.send(a, m, o, n) }, otel)).toBe(false);
  });
});

describe('clusters', () => {
  it("wraps every caller of a cluster's stubs through wrapCaller: calls and streams traced", async () => {
    const targets: string[] = [];
    const wrapCaller = (caller: Parameters<typeof tracedCaller>[0], t: CallerTarget) => {
      targets.push(`${t.type}:${t.member?.id ?? '*'}`);
      return tracedCaller(caller, { ...otel, server: t.member?.address });
    };
    const rpc = createCluster({ codec: msgpackCodec, transport, types: { feed: { services: [Feed], servers: [{ id: 'f1', address }] } }, wrapCaller });
    try {
      expect(await rpc.feed.Feed.add({ a: 1, b: 2 })).toBe(3);
      const c = await one(SpanKind.CLIENT, 'Feed/add');
      expect((await one(SpanKind.SERVER, 'Feed/add')).parentSpanContext?.spanId).toBe(c.spanContext().spanId);
      let n = 0;
      for await (const _ of await rpc.feed.Feed.count({ to: 3 })) n++;
      expect(n).toBe(3);
      expect((await one(SpanKind.CLIENT, 'Feed/count')).attributes['rpc.skein.stream.items_received']).toBe(3);
      spans.reset();
      expect(await rpc.feed.$to('f1').Feed.add({ a: 2, b: 2 })).toBe(4);
      const pinned = await one(SpanKind.CLIENT, 'Feed/add');
      expect(pinned.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': Number(address.split(':')[1]) });
      expect(targets).toEqual(['feed:*', 'feed:f1']);
    } finally {
      await rpc.$cluster.close();
    }
  });
});
