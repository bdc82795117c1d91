import { SpanKind } from '@opentelemetry/api';
import { createClient, createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { formatAddress, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer } from '@skein/stream';
import { cleanups, suiteCerts, testTls, tmpSocketPath } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { tracedCaller, tracedDispatch } from '../src/index.js';
import { telemetry } from './otel-harness.js';
import { startTraced, stopTraced } from './traced-server.js';

// `server.address` and the peer's attributes come from core's parseAddress, for every form an
// address is written in. A hand-made parser read only `host:port` and `unix:`: a ws://, wss:// or
// tls:// address became `server.address` whole, a token in its query included, with no port;
// a TLS Unix socket's peer was `tls+unix:/path` with no `network.transport`.

const Echo = service('Echo', { echo: method<string, string>() });
const echo = implement(Echo, { echo: (s) => s });
const cleanup = cleanups();
const certs = suiteCerts();
const tls = testTls(certs);

describe("tracedCaller's server.address", () => {
  it.each([
    ['ws://127.0.0.1:4000/skein?token=s3cret', { 'server.address': '127.0.0.1', 'server.port': 4000, 'network.transport': 'tcp' }],
    ['wss://api.example.com/skein?token=s3cret', { 'server.address': 'api.example.com', 'server.port': 443, 'network.transport': 'tcp' }],
    ['tls://[::1]:7000', { 'server.address': '::1', 'server.port': 7000, 'network.transport': 'tcp' }],
    ['tls+unix:/run/skein.sock', { 'server.address': '/run/skein.sock', 'network.transport': 'unix' }],
    ['/run/skein.sock', { 'server.address': '/run/skein.sock', 'network.transport': 'unix' }],
    // Not an address Skein reads: kept as written, without its query.
    ['http://lb.example.com/skein?token=s3cret', { 'server.address': 'http://lb.example.com/skein' }],
  ])('%s gives %j', async (server, want) => {
    const t = telemetry();
    const s = await startTraced([echo], t.otel);
    cleanup.push(() => stopTraced(s));
    const stub = createClient(Echo, tracedCaller(s.peer, { ...t.otel, server }), { codec: msgpackCodec });
    expect(await stub.echo('hi')).toBe('hi');
    const [span, ...more] = t.spans.getFinishedSpans().filter((x) => x.kind === SpanKind.CLIENT);
    expect(more).toEqual([]);
    const { 'server.address': address, 'server.port': port, 'network.transport': network } = span!.attributes;
    expect({ 'server.address': address, 'server.port': port, 'network.transport': network }).toEqual({ 'server.port': undefined, 'network.transport': undefined, ...want });
  });
});

describe('a call over TLS on a Unix socket', () => {
  it("names the socket's path on both sides, with network.transport unix", async () => {
    const t = telemetry();
    const server = new RpcServer({ dispatch: tracedDispatch(createServiceDispatch({ codec: msgpackCodec, services: [echo] }), t.otel) });
    cleanup.push(() => server.close());
    const path = tmpSocketPath('skein-otel-tls-unix');
    const address = formatAddress((await server.listen(tcpTransport(nodeRuntime, { tls: tls.serverTls() }), `tls+unix:${path}`)) as Address);
    expect(address).toBe(`tls+unix:${path}`);
    const stream = await ClientStream.connect({ transport: tcpTransport(nodeRuntime, { tls: tls.clientTls() }), address });
    cleanup.push(() => stream.close());
    const stub = createClient(Echo, tracedCaller(stream, t.otel), { codec: msgpackCodec });
    expect(await stub.echo('hi')).toBe('hi');
    const spans = t.spans.getFinishedSpans();
    expect(spans.find((x) => x.kind === SpanKind.CLIENT)?.attributes).toMatchObject({ 'server.address': path, 'network.transport': 'unix' });
    expect(spans.find((x) => x.kind === SpanKind.SERVER)?.attributes).toMatchObject({ 'network.peer.address': path, 'network.transport': 'unix', 'rpc.skein.transport': 'tcp' });
  });
});
