import type { SumMetricData } from '@opentelemetry/sdk-metrics';
import { implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode } from '@skein/core';
import { ClientStream, RpcServer } from '@skein/stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sum, telemetry } from './otel-harness.js';
import { startTraced, stopTraced } from './traced-server.js';

const { otel, collect } = telemetry();

// Both handlers answer before the dispatch returns: no call of them is ever seen pending.
const Calc = service('Calc', { add: method<{ a: number; b: number }, number>(), sub: method<{ a: number; b: number }, number>() });
const calc = implement(Calc, { add: ({ a, b }) => a + b, sub: ({ a, b }) => a - b });

let server: RpcServer;
let peer: ClientStream;
beforeAll(async () => void ({ server, peer } = await startTraced([calc], otel)));
afterAll(() => stopTraced({ server, peer }));

/** The server's in_flight points of one method: present or not, and their value. */
async function inFlightOf(methodName: string): Promise<number[]> {
  const m = (await collect()).find((x) => x.descriptor.name === 'skein.rpc.server.in_flight') as SumMetricData | undefined;
  return (m?.dataPoints ?? []).filter((p) => p.attributes['rpc.method'] === methodName).map((p) => p.value);
}

describe('in_flight of a method whose handler answers synchronously', () => {
  it('has a series at 0 once the method has been called, though no call was ever pending', async () => {
    expect(await inFlightOf('add')).toEqual([]); // not called yet: no series
    for (let i = 0; i < 3; i++) await peer.call('Calc.add', msgpackCodec.encode({ a: i, b: 1 }));
    expect(await inFlightOf('add')).toEqual([0]);
    expect(sum(await collect(), 'skein.rpc.server.calls', { 'rpc.method': 'add' })).toBe(3);
    // A method never called still has none.
    expect(await inFlightOf('sub')).toEqual([]);
  });

  it('has one for a synchronous failure too, and for _OTHER (actions the server does not have)', async () => {
    await expect(peer.call('Calc.sub', new Uint8Array([0xc1]))).rejects.toMatchObject({ code: ErrorCode.Decode });
    expect(await inFlightOf('sub')).toEqual([0]);
    await expect(peer.call('Calc.nope', msgpackCodec.encode(0))).rejects.toMatchObject({ code: ErrorCode.Method });
    expect(await inFlightOf('_OTHER')).toEqual([0]);
    expect(await inFlightOf('nope')).toEqual([]);
  });
});
