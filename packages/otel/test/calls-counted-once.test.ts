import { createClient, createServiceDispatch, implement, method, service, type Filter } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, formatAddress, RpcError, silentLogger, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { FailoverPool, RpcServer } from '@skein/stream';
import { startTcpRelay } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it, onTestFinished } from 'vitest';
import { tracedCaller, tracedDispatch } from '../src/index.js';
import { histogram, sum, telemetry, type Telemetry } from './otel-harness.js';

/**
 * Many calls at once, over a FailoverPool, each side with its own SDK: every call is counted
 * once where it was made, and each server counts what happened on it, whatever the pool did.
 */
const transport = tcpTransport(nodeRuntime);
const Svc = service('Svc', { op: method<number, number>(), hang: method<void, void>() });
const N = 200;

/** A server with its own telemetry; `shed`: it refuses every call before the handler runs (unrun: the pool may move it). */
async function serve(shed = false): Promise<{ t: Telemetry; server: RpcServer; address: string }> {
  const t = telemetry();
  const impl = implement(Svc, { op: (n) => n, hang: () => new Promise<void>(() => {}) });
  const refuse: Filter = {
    before: () => {
      throw new RpcError(ErrorCode.Overloaded, 'shedding', { retry: 'safe' });
    },
  };
  const dispatch = createServiceDispatch({ codec: msgpackCodec, services: [impl], logger: silentLogger, filters: shed ? [refuse] : [] });
  const server = new RpcServer({ dispatch: tracedDispatch(dispatch, t.otel) });
  const address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
  onTestFinished(() => server.close());
  return { t, server, address };
}

function pooled(servers: string[]): { t: Telemetry; svc: ReturnType<typeof createClient<typeof Svc>> } {
  const t = telemetry();
  const pool = new FailoverPool({ transport, servers });
  onTestFinished(() => pool.close());
  return { t, svc: createClient(Svc, tracedCaller(pool, t.otel), { codec: msgpackCodec }) };
}

describe('calls counted under concurrency', () => {
  it('counts each of N calls once at the client, though the pool moved the ones a server refused unrun', async () => {
    const shedding = await serve(true);
    const answering = await serve();
    const { t, svc } = pooled([shedding.address, answering.address]);
    const results = await Promise.all(Array.from({ length: N }, (_, i) => svc.op(i)));
    expect(results).toEqual(Array.from({ length: N }, (_, i) => i));

    const client = await t.collect();
    expect(sum(client, 'skein.rpc.client.calls', {})).toBe(N);
    expect(sum(client, 'skein.rpc.client.errors', {})).toBe(0);
    expect(histogram(client, 'rpc.client.duration', {}).count).toBe(N);
    // Each server counts what it did: the refusals (some share of the N, by the pool's turns), and every answer.
    const refused = sum(await shedding.t.collect(), 'skein.rpc.server.calls', { 'rpc.method': 'op', 'error.type': 'Overloaded' });
    expect(refused).toBeGreaterThan(0);
    expect(sum(await shedding.t.collect(), 'skein.rpc.server.calls', {})).toBe(refused);
    const served = await answering.t.collect();
    expect(sum(served, 'skein.rpc.server.calls', { 'rpc.method': 'op' })).toBe(N);
    expect(sum(served, 'skein.rpc.server.errors', {})).toBe(0);
  });

  it('leaves nothing in flight on either side when the link is cut under N waiting calls, each counted once as IO', async () => {
    const s = await serve();
    const relay = await startTcpRelay(s.address);
    onTestFinished(() => relay.close());
    const { t, svc } = pooled([relay.address]);
    // Handlers that never answer: only the loss ends them. A traced call's trace context goes in
    // its head, so its server hears the loss at once (an untraced plain call ends at its answer).
    const calls = Array.from({ length: N }, () => svc.hang().catch((e: unknown) => e));
    await expect.poll(async () => sum(await s.t.collect(), 'skein.rpc.server.in_flight', {}), { timeout: 10_000 }).toBe(N);
    relay.cut();
    for (const e of await Promise.all(calls)) expect(e).toMatchObject({ code: ErrorCode.IO });

    const client = await t.collect();
    expect(sum(client, 'skein.rpc.client.in_flight', {})).toBe(0);
    expect(sum(client, 'skein.rpc.client.calls', { 'error.type': 'IO' })).toBe(N);
    expect(sum(client, 'skein.rpc.client.calls', {})).toBe(N);
    await expect.poll(async () => sum(await s.t.collect(), 'skein.rpc.server.in_flight', {})).toBe(0);
    const server = await s.t.collect();
    expect(sum(server, 'skein.rpc.server.calls', { 'error.type': 'IO' })).toBe(N);
    expect(sum(server, 'skein.rpc.server.calls', {})).toBe(N);
  });
});
