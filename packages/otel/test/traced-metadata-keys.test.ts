import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { formatAddress, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, createRouter, RpcServer, type Caller } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracedCaller, tracedDispatch } from '../src/index.js';
import { telemetry } from './otel-harness.js';

/*
 * A traced call's metadata is the caller's entries and the trace context: every entry the caller
 * gave travels, whatever its key. A server reads metadata into a record that keeps "__proto__" as
 * an entry (call-head.ts), so a handler that passes its request's metadata on hands over exactly
 * such a record: the traced copy must keep it as the untraced call does.
 */

const transport = tcpTransport(nodeRuntime);
const { otel, spans } = telemetry();
const seen: Record<string, string>[] = [];
let server: RpcServer;
let stream: ClientStream;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  // Copies the entries it got into a record that inherits nothing, so "__proto__" shows as one.
  server = new RpcServer({ dispatch: createRouter({ 'Meta.read': (req) => void seen.push(Object.assign(Object.create(null), Object.fromEntries(Object.entries(req.metadata)))) }) });
  const address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
  stream = await ClientStream.connect({ transport, address });
});
afterAll(async () => {
  stream.destroy();
  await server.close();
  context.disable();
});

const read = (caller: Caller, metadata: Record<string, string>): Promise<void> =>
  new Promise((resolve, reject) => caller.send('Meta.read', new Uint8Array(0), { metadata }, (err) => (err ? reject(err) : resolve())));

describe("a traced call's metadata", () => {
  it('keeps every entry the caller gave, "__proto__" too, as the untraced call sends them', async () => {
    // As a server reads metadata (and a handler may pass on): a record whose "__proto__" is an entry.
    const metadata = Object.assign(Object.create(null) as Record<string, string>, { tenant: 'acme' });
    Object.defineProperty(metadata, '__proto__', { value: 'p', enumerable: true, writable: true, configurable: true });
    seen.length = 0;
    await read(stream, metadata);
    await read(tracedCaller(stream, otel), metadata);
    const [plain, traced] = seen;
    expect(Object.keys(plain!).sort()).toEqual(['__proto__', 'tenant']);
    expect(Object.keys(traced!).sort()).toEqual(['__proto__', 'tenant', 'traceparent']);
  });
});

describe('the metadata a traced dispatch hands on', () => {
  it('keeps every entry the client sent, "__proto__" too, with the server span\'s context in place of the client\'s', async () => {
    const handed: Record<string, string>[] = [];
    const traced = new RpcServer({ dispatch: tracedDispatch(createRouter({ 'Meta.read': (req) => void handed.push(Object.assign(Object.create(null), Object.fromEntries(Object.entries(req.metadata)))) }), otel) });
    const to = await ClientStream.connect({ transport, address: formatAddress((await traced.listen(transport, '127.0.0.1:0')) as Address) });
    try {
      const metadata = Object.assign(Object.create(null) as Record<string, string>, { tenant: 'acme', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
      Object.defineProperty(metadata, '__proto__', { value: 'p', enumerable: true, writable: true, configurable: true });
      await to.ping();
      spans.reset();
      await read(to, metadata);
      const [server] = spans.getFinishedSpans();
      expect(server!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
      const got = handed[0]!;
      expect(Object.keys(got).sort()).toEqual(['__proto__', 'tenant', 'traceparent']);
      expect([got['__proto__'], got.tenant, got.traceparent]).toEqual(['p', 'acme', `00-0af7651916cd43dd8448eb211c80319c-${server!.spanContext().spanId}-01`]);
    } finally {
      to.destroy();
      await traced.close();
    }
  });
});
