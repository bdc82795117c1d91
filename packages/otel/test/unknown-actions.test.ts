import type { HistogramMetricData, MetricData, SumMetricData } from '@opentelemetry/sdk-metrics';
import { createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, formatAddress, silentLogger, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer, type ServerRequest } from '@skein/stream';
import { deferred } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { histogram, sum, telemetry } from './otel-harness.js';
import { startTraced, stopTraced } from './traced-server.js';
import { tracedDispatch } from '../src/index.js';

const transport = tcpTransport(nodeRuntime);
const { otel, collect } = telemetry();

const Calc = service('Calc', { add: method<{ a: number; b: number }, number>(), wait: method<void, void>() });
let gate = deferred<void>();
const calc = implement(Calc, { add: ({ a, b }) => a + b, wait: () => gate.promise });

let server: RpcServer;
/** An untraced client: a peer that names whatever actions it likes. */
let peer: ClientStream;
beforeAll(async () => void ({ server, peer } = await startTraced([calc], otel)));
afterAll(() => stopTraced({ server, peer }));

const SERVER_METRICS = ['skein.rpc.server.calls', 'skein.rpc.server.errors', 'skein.rpc.server.in_flight', 'rpc.server.duration', 'rpc.server.request.size', 'rpc.server.response.size'];

/** Distinct attribute sets (series) each server metric holds. */
async function series(): Promise<Record<string, number>> {
  const all = await collect();
  return Object.fromEntries(SERVER_METRICS.map((name) => [name, (all.find((m) => m.descriptor.name === name) as SumMetricData | undefined)?.dataPoints.length ?? 0]));
}

describe('server metrics of actions the server does not have', () => {
  it('go under rpc.method _OTHER: a peer naming new actions adds no series', async () => {
    await peer.call('Calc.add', msgpackCodec.encode({ a: 1, b: 2 }));
    await expect(peer.call('Calc.nope', msgpackCodec.encode(0))).rejects.toMatchObject({ code: ErrorCode.Method });
    await expect(peer.call('Nope.add', msgpackCodec.encode(0))).rejects.toMatchObject({ code: ErrorCode.Service });
    const first = await series();
    for (let i = 0; i < 50; i++) {
      await expect(peer.call(`Calc.m${i}`, msgpackCodec.encode(0))).rejects.toMatchObject({ code: ErrorCode.Method });
      await expect(peer.call(`S${i}.m`, msgpackCodec.encode(0))).rejects.toMatchObject({ code: ErrorCode.Service });
    }
    expect(await series()).toEqual(first);
    const all = await collect();
    expect(sum(all, 'skein.rpc.server.calls', { 'rpc.method': '_OTHER', 'error.type': 'Method' })).toBe(51);
    expect(sum(all, 'skein.rpc.server.calls', { 'rpc.method': '_OTHER', 'error.type': 'Service' })).toBe(51);
    expect(sum(all, 'skein.rpc.server.calls', { 'rpc.service': 'Calc', 'rpc.method': 'add' })).toBe(1);
    expect(sum(all, 'skein.rpc.server.in_flight', {})).toBe(0);
  });

  it("still counts a method's calls in flight under its name", async () => {
    gate = deferred<void>();
    const waiting = peer.call('Calc.wait', msgpackCodec.encode(null));
    await peer.ping(); // the request went before the ping, and is dispatched
    expect(sum(await collect(), 'skein.rpc.server.in_flight', { 'rpc.service': 'Calc', 'rpc.method': 'wait' })).toBe(1);
    gate.resolve();
    await waiting;
    const all = await collect();
    expect(sum(all, 'skein.rpc.server.in_flight', { 'rpc.method': 'wait' })).toBe(0);
    expect(sum(all, 'skein.rpc.server.calls', { 'rpc.service': 'Calc', 'rpc.method': 'wait' })).toBe(1);
  });
});

describe('a dispatch that refuses unknown actions later (as a WorkerPool does, from its worker)', () => {
  let later: RpcServer;
  let caller: ClientStream;
  const { otel: laterOtel, collect: collectLater } = telemetry();
  beforeAll(async () => {
    const inner = createServiceDispatch({ codec: msgpackCodec, services: [calc], logger: silentLogger });
    // Hands each request on after a macrotask: the dispatch returns before any answer or refusal.
    const deferredDispatch = { dispatch: (req: ServerRequest) => void setImmediate(() => inner.dispatch(req)) };
    later = new RpcServer({ dispatch: tracedDispatch(deferredDispatch, laterOtel) });
    const address = formatAddress((await later.listen(transport, '127.0.0.1:0')) as Address);
    caller = await ClientStream.connect({ transport, address });
  });
  afterAll(async () => {
    caller?.destroy();
    await later?.close();
  });

  it('adds no in_flight series per action name the peer makes up (past the first refused late)', async () => {
    await caller.call('Calc.add', msgpackCodec.encode({ a: 1, b: 2 }));
    for (let i = 0; i < 20; i++) await expect(caller.call(`Calc.m${i}`, msgpackCodec.encode(0))).rejects.toMatchObject({ code: ErrorCode.Method });
    const inFlight = (await collectLater()).find((m) => m.descriptor.name === 'skein.rpc.server.in_flight') as SumMetricData | undefined;
    const methods = new Set(inFlight?.dataPoints.map((p) => p.attributes['rpc.method']));
    // The first late refusal is how the wrapper learns the dispatch refuses late: only its name stays.
    expect([...methods].filter((m) => typeof m === 'string' && /^m\d+$/.test(m))).toEqual(['m0']);
    expect(sum(await collectLater(), 'skein.rpc.server.in_flight', {})).toBe(0);
  });

  it("sizes and counts a refused stream's messages under _OTHER, not per name the peer makes up", async () => {
    await streamToMadeUpActions(caller, 's');
    expectNoStreamSeries(await collectLater(), 's');
  });
});

describe('streams of actions the server does not have', () => {
  it('add no stream series per name the peer makes up', async () => {
    await streamToMadeUpActions(peer, 't');
    expectNoStreamSeries(await collect(), 't');
  });
});

const MADE_UP_STREAMS = 10;

/**
 * Opens streams to `Calc.<prefix><i>`, actions the server does not have, each sending an item at
 * once (taken, and sized, if it arrives before the refusal), and waits for each refusal.
 */
async function streamToMadeUpActions(stream: ClientStream, prefix: string): Promise<void> {
  for (let i = 0; i < MADE_UP_STREAMS; i++) {
    const s = stream.openStream(`Calc.${prefix}${i}`, msgpackCodec.encode(0));
    void s.write(msgpackCodec.encode(1)).catch(() => {});
    await expect(s.result).rejects.toMatchObject({ code: ErrorCode.Method });
  }
}

/** No stream metric has a series of a made-up name; every such stream counted under `_OTHER`, with no `rpc.service`. */
function expectNoStreamSeries(all: MetricData[], prefix: string): void {
  const madeUp = new RegExp(`^${prefix}\\d+$`);
  for (const name of ['rpc.server.request.size', 'rpc.server.response.size', 'rpc.server.requests_per_rpc', 'rpc.server.responses_per_rpc']) {
    const m = all.find((x) => x.descriptor.name === name) as HistogramMetricData | undefined;
    expect((m?.dataPoints ?? []).filter((p) => madeUp.test(String(p.attributes['rpc.method']))), name).toEqual([]);
  }
  expect(histogram(all, 'rpc.server.requests_per_rpc', { 'rpc.method': '_OTHER', 'rpc.service': undefined }).count).toBe(MADE_UP_STREAMS);
}
