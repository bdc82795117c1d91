import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError } from '@skein/core';
import { Tag, addExtension } from 'cbor-x';
import { fromHex, hex } from '@skein/test-utils';
import { cbor, cborCodec } from '../src/index.js';

describe('cbor wire format', () => {
  it('is named cbor', () => expect(cborCodec.name).toBe('cbor'));

  it('writes a Uint8Array as an untagged byte string', () => {
    expect(hex(cborCodec.encode(new Uint8Array([1, 2])))).toBe('420102');
  });

  it('writes a Map with tag 259 and reads an untagged map as a plain object', () => {
    expect(hex(cborCodec.encode(new Map([[1, 'a']])))).toBe('d90103a1016161');
    expect(cborCodec.decode(fromHex('a1016161'))).toEqual({ 1: 'a' });
  });

  it('writes a bigint as a 64-bit integer, even a small one, and beyond 64 bits as a bignum', () => {
    expect(hex(cborCodec.encode(5n))).toBe('1b0000000000000005');
    expect(hex(cborCodec.encode(2n ** 64n))).toBe('c249010000000000000000');
  });

  it('reads a 64-bit integer from another encoder as a bigint, even a small one', () => {
    expect(cborCodec.decode(fromHex('1b0000010000000000'))).toBe(2n ** 40n);
  });

  it('writes a Date as tag 1, epoch seconds', () => {
    expect(hex(cborCodec.encode(new Date(1000)))).toBe('c11a00000001');
    expect(hex(cborCodec.encode(new Date(1500)))).toBe('c1fb3ff8000000000000');
  });

  it('writes no record structures: the same object encodes to the same self-contained bytes every time', () => {
    const value = { id: 1, name: 'n', tags: ['a'] };
    const messages = [1, 2, 3].map(() => hex(cborCodec.encode(value)));
    expect(new Set(messages).size).toBe(1);
    expect(messages[0]!.startsWith('b90003')).toBe(true); // a map of 3 entries, not a record tag
    expect(cbor().decode(fromHex(messages[2]!))).toEqual(value);
  });

  it('writes the smallest map header with variableMapSize', () => {
    expect(hex(cbor({ variableMapSize: true }).encode({ a: 1 }))).toBe('a1616101');
    expect(hex(cborCodec.encode({ a: 1 }))).toBe('b90001616101');
  });

  it('takes an option given as undefined as one left out: the defaults, byte for byte', () => {
    // `{ maxDepth: cfg.maxDepth }` with nothing configured, as exactOptionalPropertyTypes lets a caller write.
    const unset = undefined;
    const codec = cbor({ variableMapSize: unset, maxDepth: unset, maxContainers: unset, maxMapKeys: unset, regExps: unset });
    const value = { a: 1, b: [new Map([[2, 3]]), [[[[[1]]]]]] };
    expect(hex(codec.encode(value))).toBe(hex(cborCodec.encode(value)));
    expect(codec.decode(cborCodec.encode(value))).toEqual(value);
    // regExps stays off: a peer's RegExp is refused, as by default.
    expect(() => codec.decode(cborCodec.encode(/x/))).toThrow(/regExps option/);
  });

  it('returns an unknown tag as a cbor-x Tag', () => {
    const out = cborCodec.decode(fromHex('d903e801')); // tag 1000 holding 1
    expect(out).toBeInstanceOf(Tag);
    expect(out).toMatchObject({ tag: 1000, value: 1 });
  });

  it('hands out bytes of a small message that later messages do not overwrite', () => {
    const first = cborCodec.decode(cborCodec.encode({ b: Uint8Array.of(1, 2, 3) })) as { b: Uint8Array };
    cborCodec.decode(cborCodec.encode({ b: Uint8Array.of(9, 9, 9) }));
    expect([...first.b]).toEqual([1, 2, 3]);
    expect(first.b.constructor).toBe(Uint8Array);
  });

  it('decodes small messages of every length, and refuses truncated or overlong ones', () => {
    for (let n = 0; n < 300; n += 7) {
      const value = { s: 'x'.repeat(n), n };
      const encoded = cborCodec.encode(value);
      expect(cborCodec.decode(encoded)).toEqual(value);
      expect(() => cborCodec.decode(encoded.subarray(0, encoded.length - 1))).toThrow(RpcError);
      expect(() => cborCodec.decode(Uint8Array.of(...encoded, 0))).toThrow(RpcError);
    }
  });

  it('decodes a small message nested in another (a tag whose reader decodes its payload)', () => {
    addExtension({ Class: class Never {}, tag: 47_001, encode: () => new Uint8Array(0), decode: (inner: unknown) => cborCodec.decode(inner as Uint8Array) });
    const inner = cborCodec.encode({ inner: 'yes' });
    // tag 47001 holding the inner message as a byte string, inside a map
    const outer = fromHex(`a1 61 6f d9 b799 ${(0x40 + inner.length).toString(16)} ${hex(inner)}`);
    expect(cborCodec.decode(outer)).toEqual({ o: { inner: 'yes' } });
  });

  it('keeps the library message as the cause of an error', () => {
    try {
      cborCodec.decode(fromHex('ff'));
      expect.unreachable();
    } catch (e) {
      expect(RpcError.is(e, ErrorCode.Decode)).toBe(true);
      expect((e as RpcError).message).toMatch(/^cbor: cannot decode: /);
      expect((e as RpcError).cause).toBeInstanceOf(Error);
    }
  });
});
