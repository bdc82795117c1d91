import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, type Codec } from '@skein/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createCluster, createServiceDispatch, implement, method, service } from '../src/index.js';
import { serve, transport } from './harness.js';

// Plain JS (a config object, a worker module's default export) can leave out the codec or give a
// default timeout no call can have: refused where it is made, not by every call. A dispatch
// without a codec answered each call Internal, logged as "handler threw"; a client threw a
// TypeError; a client's timeoutMs of -1 failed each call.

const Calc = service('Calc', { add: method<{ a: number; b: number }, number>() });
const calc = implement(Calc, { add: ({ a, b }) => a + b });
const refused = (what: RegExp) => expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(what) });

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

describe('the options a dispatch or a client is made with', () => {
  it.each([
    ['none', undefined],
    ['null', null],
    ['an empty object', {}],
    ['an object with encode alone', { encode: () => new Uint8Array() }],
  ])('a codec of %s is refused by createServiceDispatch', (_what, codec) => {
    expect(() => createServiceDispatch({ codec: codec as unknown as Codec, services: [calc] })).toThrow(refused(/^createServiceDispatch: codec must be a Codec/));
  });

  it('a client without a codec, or with a default timeoutMs no call may have, is refused when made; a good one over the same stream calls', async () => {
    const s = await serve({ codec: msgpackCodec, services: [calc] });
    cleanup.push(() => s.close());
    expect(() => createClient(Calc, s.stream, {} as never)).toThrow(refused(/^createClient: codec must be a Codec/));
    for (const timeoutMs of [-1, 0, Number.NaN, Infinity]) {
      expect(() => createClient(Calc, s.stream, { codec: msgpackCodec, timeoutMs })).toThrow(refused(/^createClient: timeoutMs must be a positive number of ms/));
    }
    expect(await createClient(Calc, s.stream, { codec: msgpackCodec, timeoutMs: 2000 }).add({ a: 1, b: 2 })).toBe(3);
  });

  it('a cluster without a codec, or with a bad default timeoutMs, is refused when made, before any pool', () => {
    const made = () => createCluster({ transport, types: { calc: { services: [Calc], servers: [] } } } as never);
    expect(made).toThrow(refused(/^createCluster: codec must be a Codec/));
    const late = () => createCluster({ codec: msgpackCodec, transport, timeoutMs: -1, types: { calc: { services: [Calc], servers: [] } } });
    expect(late).toThrow(refused(/^createCluster: timeoutMs must be a positive number of ms/));
  });
});
