import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createClient, createServiceDispatch, implement, method, service, type Filter } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, formatAddress, RpcError, silentLogger, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer, type Dispatch } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tracedCaller, tracedDispatch } from '../src/index.js';
import { sum, telemetry } from './otel-harness.js';

/**
 * Two hops over real TCP: a client calls Front.op, whose handler calls Back.op with `{ ctx }`
 * (the deadline and the cancel travel on). What the back does reaches every span of the trace.
 */
const transport = tcpTransport(nodeRuntime);
const { spans, otel, collect } = telemetry();

const Back = service('Back', { op: method<string, string>() });
const Front = service('Front', { op: method<string, string>() });

const back = implement(Back, {
  op: (mode, ctx) => {
    if (mode === 'invalid') throw new RpcError(ErrorCode.InvalidArgument, 'no such order');
    if (mode === 'busy') throw new RpcError(ErrorCode.Overloaded, 'back is full', { retry: 'safe' });
    // Answers only when the call is given up (cancelled, or past its deadline).
    return new Promise<string>((resolve) => ctx.onAbort(() => resolve('late')));
  },
});
/** The front's own load shedding: refuses a call before its handler runs. */
const shed: Filter = {
  before: (info) => {
    if (info.arg === 'shed') throw new RpcError(ErrorCode.Overloaded, 'front is full', { retry: 'safe' });
  },
};

const opened: { server: RpcServer; stream: ClientStream }[] = [];
async function serve(dispatch: Dispatch): Promise<ClientStream> {
  const server = new RpcServer({ dispatch: tracedDispatch(dispatch, otel) });
  const stream = await ClientStream.connect({ transport, address: formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address) });
  opened.push({ server, stream });
  return stream;
}

let client: ReturnType<typeof createClient<typeof Front>>;
beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const toBack = createClient(Back, tracedCaller(await serve(createServiceDispatch({ codec: msgpackCodec, services: [back], logger: silentLogger })), otel), { codec: msgpackCodec });
  const front = implement(Front, { op: (mode, ctx) => toBack.op(mode, { ctx }) });
  const frontStream = await serve(createServiceDispatch({ codec: msgpackCodec, services: [front], logger: silentLogger, filters: [shed] }));
  client = createClient(Front, tracedCaller(frontStream, otel), { codec: msgpackCodec });
});
afterAll(async () => {
  for (const { server, stream } of opened.reverse()) {
    stream.destroy();
    await server.close();
  }
  context.disable();
});
afterEach(() => spans.reset());

interface Hop {
  frontClient: ReadableSpan;
  frontServer: ReadableSpan;
  backClient: ReadableSpan;
  backServer: ReadableSpan;
}

/** The four spans of one call across both hops, once all have ended (a server's may end after its client's answer). */
async function hop(): Promise<Hop> {
  await expect.poll(() => spans.getFinishedSpans().length).toBe(4);
  const all = spans.getFinishedSpans();
  const find = (kind: SpanKind, name: string): ReadableSpan => all.find((s) => s.kind === kind && s.name === name)!;
  const h = { frontClient: find(SpanKind.CLIENT, 'Front/op'), frontServer: find(SpanKind.SERVER, 'Front/op'), backClient: find(SpanKind.CLIENT, 'Back/op'), backServer: find(SpanKind.SERVER, 'Back/op') };
  // One trace, each span the child of the one before it.
  expect(new Set(all.map((s) => s.spanContext().traceId)).size).toBe(1);
  expect(h.frontServer.parentSpanContext?.spanId).toBe(h.frontClient.spanContext().spanId);
  expect(h.backClient.parentSpanContext?.spanId).toBe(h.frontServer.spanContext().spanId);
  expect(h.backServer.parentSpanContext?.spanId).toBe(h.backClient.spanContext().spanId);
  return h;
}

const spansOf = (h: Hop): ReadableSpan[] => [h.frontClient, h.frontServer, h.backClient, h.backServer];

async function inFlightIsZero(): Promise<void> {
  const m = await collect();
  expect(sum(m, 'skein.rpc.client.in_flight', {})).toBe(0);
  expect(sum(m, 'skein.rpc.server.in_flight', {})).toBe(0);
}

describe('a call across a hop (client → front handler with { ctx } → back)', () => {
  it("carries the back's error by its code to every span: an error on the clients', on the servers' only for a server fault", async () => {
    await expect(client.op('invalid')).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    let h = await hop();
    for (const s of spansOf(h)) expect(s.attributes).toMatchObject({ 'error.type': 'InvalidArgument', 'rpc.skein.error_code': ErrorCode.InvalidArgument });
    expect([h.frontClient, h.frontServer, h.backClient, h.backServer].map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.UNSET, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(h.frontClient.attributes['rpc.skein.error_retry']).toBe('never');
    spans.reset();

    await expect(client.op('busy')).rejects.toMatchObject({ code: ErrorCode.Overloaded });
    h = await hop();
    for (const s of spansOf(h)) {
      expect(s.attributes).toMatchObject({ 'error.type': 'Overloaded', 'rpc.skein.error_code': ErrorCode.Overloaded });
      expect(s.status.code).toBe(SpanStatusCode.ERROR);
    }
    // The front's handler ran before it passed the back's refusal on: the client may not take it for unrun.
    expect(h.frontClient.attributes['rpc.skein.error_retry']).toBe('idempotent');
    // A server's span does not say: what its handler failed with is not what its client reads.
    expect(h.frontServer.attributes['rpc.skein.error_retry']).toBeUndefined();
  });

  it("ends the front's spans at the client's deadline as Timeout, the back's as given up, and nothing stays in flight", async () => {
    await expect(client.op('wait', { timeoutMs: 200 })).rejects.toMatchObject({ code: ErrorCode.Timeout });
    const h = await hop();
    for (const s of [h.frontClient, h.frontServer]) expect(s.attributes).toMatchObject({ 'error.type': 'Timeout', 'rpc.skein.error_code': ErrorCode.Timeout });
    // The back's call is cancelled with the front's ctx at the same deadline (@skein/api: "is
    // cancelled with it"), racing the back's own timer for that instant: either is what happened.
    for (const s of [h.backClient, h.backServer]) expect(['Timeout', 'Cancelled']).toContain(s.attributes['error.type']);
    await inFlightIsZero();
  });

  it("ends every span at the client's cancel as Cancelled, no server's fault, and nothing stays in flight", async () => {
    const abort = new AbortController();
    const call = client.op('wait', { signal: abort.signal }).catch((e: unknown) => e);
    // Cancelled once the back's handler runs: the cancel must travel through the front.
    await expect.poll(async () => sum(await collect(), 'skein.rpc.server.in_flight', { 'rpc.service': 'Back' })).toBe(1);
    abort.abort();
    expect(await call).toMatchObject({ code: ErrorCode.Cancelled });
    const h = await hop();
    for (const s of spansOf(h)) expect(s.attributes).toMatchObject({ 'error.type': 'Cancelled', 'rpc.skein.error_code': ErrorCode.Cancelled });
    expect([h.frontServer, h.backServer].map((s) => s.status.code)).toEqual([SpanStatusCode.UNSET, SpanStatusCode.UNSET]);
    await inFlightIsZero();
  });

  it("records a call the front refused before its handler ran (its load shedding) as refused unrun, apart from a back's Overloaded passed on", async () => {
    await expect(client.op('shed')).rejects.toMatchObject({ code: ErrorCode.Overloaded, retry: 'safe' });
    await expect.poll(() => spans.getFinishedSpans().length).toBe(2);
    for (const s of spans.getFinishedSpans()) {
      expect(s.name).toBe('Front/op');
      expect(s.attributes).toMatchObject({ 'error.type': 'Overloaded', 'rpc.skein.error_code': ErrorCode.Overloaded });
    }
    expect(spans.getFinishedSpans().find((s) => s.kind === SpanKind.CLIENT)!.attributes['rpc.skein.error_retry']).toBe('safe');
  });
});
