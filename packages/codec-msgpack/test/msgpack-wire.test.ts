import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError } from '@skein/core';
import { ExtData, decode as libraryDecode, encode as libraryEncode } from '@msgpack/msgpack';
import { fromHex, hex } from '@skein/test-utils';
import { msgpack, msgpackCodec } from '../src/index.js';

describe('msgpack wire format', () => {
  it('is named msgpack', () => expect(msgpackCodec.name).toBe('msgpack'));

  it('writes a Date as the timestamp extension (-1)', () => {
    expect(hex(msgpackCodec.encode(new Date(1000)))).toBe('d6ff00000001');
  });

  it("writes a Map as extension 1 holding [key, value] pairs, as in the library's README", () => {
    const encoded = msgpackCodec.encode(new Map([['a', 1]]));
    const ext = libraryDecode(encoded) as ExtData;
    expect(ext).toBeInstanceOf(ExtData);
    expect(ext.type).toBe(1);
    expect(libraryDecode(ext.data as Uint8Array)).toEqual([['a', 1]]);
  });

  it('writes a Set as extension 0 holding its values', () => {
    const ext = libraryDecode(msgpackCodec.encode(new Set(['x']))) as ExtData;
    expect(ext.type).toBe(0);
    expect(libraryDecode(ext.data as Uint8Array)).toEqual(['x']);
  });

  it('returns an unknown extension as ExtData', () => {
    const out = msgpackCodec.decode(libraryEncode(new ExtData(42, new Uint8Array([7]))));
    expect(out).toEqual(new ExtData(42, new Uint8Array([7])));
  });

  it('refuses extension values nested without end, with a Decode error', () => {
    // 200 Set extensions, each holding a one-item array with the next one.
    let payload = fromHex('90');
    for (let i = 0; i < 200; i++) payload = libraryEncode([new ExtData(0, payload)]);
    const err = (() => {
      try {
        msgpackCodec.decode(payload);
      } catch (e) {
        return e;
      }
    })();
    expect(RpcError.is(err, ErrorCode.Decode)).toBe(true);
  });

  it('encodes a Map that contains itself as an Encode error', () => {
    const map = new Map<string, unknown>();
    map.set('self', map);
    expect(() => msgpackCodec.encode(map)).toThrow(expect.objectContaining({ code: ErrorCode.Encode }));
  });

  it('keeps the library message as the cause of an error', () => {
    try {
      msgpack().decode(fromHex('c1'));
      expect.unreachable();
    } catch (e) {
      expect(RpcError.is(e, ErrorCode.Decode)).toBe(true);
      expect((e as RpcError).message).toMatch(/^msgpack: cannot decode: .*0xc1/);
      expect((e as RpcError).cause).toBeInstanceOf(Error);
    }
  });
});
