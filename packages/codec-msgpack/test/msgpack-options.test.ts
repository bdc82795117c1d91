import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError } from '@skein/core';
import { ExtData } from '@msgpack/msgpack';
import { msgpack, msgpackCodec } from '../src/index.js';

describe('msgpack options', () => {
  it('an option given as undefined is one left out: the defaults, byte for byte', () => {
    // `{ maxDepth: cfg.maxDepth }` with nothing configured, as exactOptionalPropertyTypes lets a caller write.
    const unset = undefined;
    const codec = msgpack({ ignoreUndefined: unset, sortKeys: unset, extensionTypes: { set: unset, map: unset }, maxDepth: unset, maxContainers: unset, maxMapKeys: unset });
    const value = { b: [new Set([1]), new Map([[2, 3]])], a: undefined, deep: [[[[[[1]]]]]] };
    expect(codec.encode(value)).toEqual(msgpackCodec.encode(value));
    expect(codec.decode(msgpackCodec.encode(value))).toEqual(msgpackCodec.decode(msgpackCodec.encode(value)));
  });

  it('ignoreUndefined leaves undefined fields out', () => {
    const codec = msgpack({ ignoreUndefined: true });
    expect(codec.decode(codec.encode({ a: undefined, b: 1 }))).toEqual({ b: 1 });
    expect(Object.keys(msgpackCodec.decode(msgpackCodec.encode({ a: undefined, b: 1 })) as object)).toEqual(['a', 'b']);
  });

  it('sortKeys makes equal objects encode to equal bytes', () => {
    const codec = msgpack({ sortKeys: true });
    expect(codec.encode({ b: 1, a: { d: 2, c: 3 } })).toEqual(codec.encode({ a: { c: 3, d: 2 }, b: 1 }));
    expect(msgpackCodec.encode({ b: 1, a: 2 })).not.toEqual(msgpackCodec.encode({ a: 2, b: 1 }));
  });

  it('extensionTypes moves Map and Set to other extension types', () => {
    const codec = msgpack({ extensionTypes: { map: 9, set: 8 } });
    const map = new Map([[1, 2]]);
    expect(codec.decode(codec.encode(map))).toEqual(map);
    // A codec with the default numbers sees type 9 as an unknown extension.
    const seen = msgpackCodec.decode(codec.encode(map)) as ExtData;
    expect(seen).toBeInstanceOf(ExtData);
    expect(seen.type).toBe(9);
  });

  it.each([
    [{ map: 128 }, /0\.\.127/],
    [{ set: -1 }, /0\.\.127/],
    [{ set: 1.5 }, /0\.\.127/],
    [{ map: 0 }, /share extension type 0/],
  ])('extensionTypes %j is refused with InvalidArgument', (extensionTypes, message) => {
    expect(() => msgpack({ extensionTypes })).toThrow(message);
    expect(() => msgpack({ extensionTypes })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  });

  it('gives each codec its own encoder: a failing encode in one does not disturb another', () => {
    const a = msgpack();
    const b = msgpack();
    expect(() => a.encode({ f: () => 1 })).toThrow(RpcError);
    expect(b.decode(b.encode({ ok: [1] }))).toEqual({ ok: [1] });
  });
});
