import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createClient } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { formatAddress, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer, createRouter, type Dispatch } from '@skein/stream';
import { cleanups } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { WorkerPool } from '@skein/workers';
import { describe, expect, it } from 'vitest';
import { tracedCaller, tracedDispatch, type OtelOptions } from '../src/index.js';
import { Work, type WorkerSpan } from './fixtures/work-services.mjs';
import { telemetry } from './otel-harness.js';

/**
 * A WorkerPool's handlers run on other threads than the server span `tracedDispatch` makes:
 * the span's context crosses in the request's metadata, and a worker module that sets up the
 * real SDK and wraps its dispatch in `inTraceContext` (fixtures/traced-worker.mjs) continues
 * the trace there: its spans, and a traced Skein call from the worker to a second server, are
 * the server span's descendants. The worker's SDK answers with what it recorded.
 */
const transport = tcpTransport(nodeRuntime);
const MODULE = new URL('./fixtures/traced-worker.mjs', import.meta.url);
const cleanup = cleanups();

async function listen(dispatch: Dispatch): Promise<string> {
  const server = new RpcServer({ dispatch });
  const address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
  cleanup.push(() => server.close());
  return address;
}

async function connect(address: string): Promise<ClientStream> {
  const stream = await ClientStream.connect({ transport, address });
  cleanup.push(() => stream.destroy());
  // The hello first: a call's metadata travels once the server agreed call heads.
  await stream.ping();
  return stream;
}

/**
 * A pool behind `tracedDispatch(…, otel)` (none: no SDK on this thread), a client to it, and a
 * second server the workers' handlers call, traced with the same SDK.
 */
async function setup(otel: OtelOptions | undefined) {
  // The workers run the built packages: vitest's `--conditions skein-source` is not theirs.
  const pool = await WorkerPool.start({ module: MODULE, workers: 1, execArgv: [] });
  cleanup.push(() => pool.destroy());
  const address = await listen(tracedDispatch(pool, otel));
  const second = await listen(tracedDispatch(createRouter({ 'Echo.ping': (req) => void req.reply() }), otel));
  const stream = await connect(address);
  return {
    second,
    plain: createClient(Work, stream, { codec: msgpackCodec }),
    traced: otel && createClient(Work, tracedCaller(stream, otel), { codec: msgpackCodec }),
  };
}

const named = (all: readonly WorkerSpan[], name: string): WorkerSpan => {
  const s = all.find((x) => x.name === name);
  expect(s, name).toBeDefined();
  return s!;
};
const spanOf = (all: ReadableSpan[], name: string, kind: SpanKind): ReadableSpan => {
  const s = all.filter((x) => x.name === name && x.kind === kind);
  expect(s, `${name} ${SpanKind[kind]}`).toHaveLength(1);
  return s[0]!;
};

describe('a traced WorkerPool', () => {
  it("runs a worker's handler in the server span: its spans and its traced calls continue the trace", async () => {
    const { spans, otel } = telemetry();
    const { second, traced } = await setup(otel);
    const got = await traced!.run({ tag: 'a', second });

    const server = spanOf(spans.getFinishedSpans(), 'Work/run', SpanKind.SERVER);
    const client = spanOf(spans.getFinishedSpans(), 'Work/run', SpanKind.CLIENT);
    expect(server.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
    // The worker's span is the server span's child, not the client span's (whose context the
    // client sent): what the handler does is under the span of the request it serves.
    const work = named(got.spans, 'work a');
    expect(work).toMatchObject({ traceId: server.spanContext().traceId, parent: server.spanContext().spanId });
    // The traced call the worker made is the worker span's child, and the second server's span its.
    const call = named(got.spans, 'Echo/ping');
    expect(call).toMatchObject({ traceId: server.spanContext().traceId, parent: work.spanId });
    const echo = spanOf(spans.getFinishedSpans(), 'Echo/ping', SpanKind.SERVER);
    expect(echo.spanContext().traceId).toBe(server.spanContext().traceId);
    expect(echo.parentSpanContext?.spanId).toBe(call.spanId);
    // The handler reads the server span's context in its metadata, beside nothing else.
    expect(got.metadata).toEqual({ traceparent: `00-${server.spanContext().traceId}-${server.spanContext().spanId}-01` });
  });

  it('continues the server span from a client that sent no trace context (a plain call)', async () => {
    const { spans, otel } = telemetry();
    const { plain } = await setup(otel);
    const got = await plain.run({ tag: 'b' });
    const server = spanOf(spans.getFinishedSpans(), 'Work/run', SpanKind.SERVER);
    expect(server.parentSpanContext).toBeUndefined();
    expect(named(got.spans, 'work b')).toMatchObject({ traceId: server.spanContext().traceId, parent: server.spanContext().spanId });
  });

  it("keeps the client's other metadata beside the server span's context", async () => {
    const { spans, otel } = telemetry();
    const { traced } = await setup(otel);
    const got = await traced!.run({ tag: 'c' }, { metadata: { tenant: 'acme' } });
    const server = spanOf(spans.getFinishedSpans(), 'Work/run', SpanKind.SERVER);
    expect(got.metadata).toEqual({ tenant: 'acme', traceparent: `00-${server.spanContext().traceId}-${server.spanContext().spanId}-01` });
    expect(named(got.spans, 'work c').parent).toBe(server.spanContext().spanId);
  });

  it('without an SDK on the server: the handler runs with no parent, the metadata as sent', async () => {
    const { plain } = await setup(undefined);
    const bare = await plain.run({ tag: 'd' });
    expect(named(bare.spans, 'work d').parent).toBeNull();
    expect(bare.metadata).toEqual({});
    const withMeta = await plain.run({ tag: 'e' }, { metadata: { tenant: 'acme' } });
    expect(named(withMeta.spans, 'work e').parent).toBeNull();
    expect(withMeta.metadata).toEqual({ tenant: 'acme' });
    // Each its own trace: nothing carried from one call to the next.
    expect(named(withMeta.spans, 'work e').traceId).not.toBe(named(bare.spans, 'work d').traceId);
  });
});
