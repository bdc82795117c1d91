import { SpanKind } from '@opentelemetry/api';
import { createClient, createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, formatAddress, silentLogger, type Address, type RpcError } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer } from '@skein/stream';
import { cleanups, heldHandler, waitFor } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { tracedDispatch } from '../src/index.js';
import { telemetry } from './otel-harness.js';

const transport = tcpTransport(nodeRuntime);
const Svc = service('Svc', { slow: method<number, number>() });
const CAP = 4;

const cleanup = cleanups();

/**
 * Through tracedDispatch's proxy, handlerTimeoutMs answers Timeout with the proxy's `fail` (the
 * span ends Timeout) while `runsOn` and `handlerEnded` reach the request itself: a handler that
 * runs on still counts against its connection until it ends.
 */
describe('a traced handler timed out by handlerTimeoutMs that runs on', () => {
  it('ends its span with Timeout, and counts against its connection until it ends', async () => {
    const { otel, spans } = telemetry();
    // Ignores its signal, as a handler blocked in a database call would, and ends when let go.
    const handlers = heldHandler();
    const slow = (n: number) => handlers.run(n);
    const inner = createServiceDispatch({ codec: msgpackCodec, logger: silentLogger, handlerTimeoutMs: 50, services: [implement(Svc, { slow })] });
    const server = new RpcServer({ dispatch: tracedDispatch(inner, otel), maxInFlightPerConn: CAP, closeWaitMs: 0 });
    const address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
    cleanup.push(() => server.close());
    const stream = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    await stream.ping();
    const svc = createClient(Svc, stream, { codec: msgpackCodec });
    let settled = 0;
    const outcomes = Array.from({ length: 24 }, (_, i) => svc.slow(i).then(() => 'ran', (e: RpcError) => (e.code === ErrorCode.Timeout ? 'timed out' : `failed ${e.code}`)).finally(() => settled++));
    await waitFor(() => handlers.max >= 2 * CAP, { what: 'handlers started' });
    await new Promise((r) => setTimeout(r, 400));
    expect(handlers.max).toBeLessThanOrEqual(2 * CAP);
    await waitFor(() => (handlers.endAll(), settled === outcomes.length || undefined), { what: 'every call answered' });
    const got = await Promise.all(outcomes);
    expect(got.filter((o) => o !== 'ran' && o !== 'timed out')).toEqual([]);
    // Each span ended once, as its client saw the call: Timeout for every call the sweep answered.
    const served = spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
    expect(served).toHaveLength(outcomes.length);
    expect(served.filter((s) => s.attributes['rpc.skein.error_code'] === ErrorCode.Timeout)).toHaveLength(got.filter((o) => o === 'timed out').length);
    expect(got.filter((o) => o === 'timed out').length).toBeGreaterThanOrEqual(2 * CAP);
  });
});
