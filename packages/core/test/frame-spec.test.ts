import { describe, expect, it } from 'vitest';
import { ErrorCode, FrameError, RpcError, checkFrameSpec, frameBodyLength, type FrameSpec } from '../src/index.js';

const spec = (bodyLength: FrameSpec['bodyLength'], headerLength = 4): FrameSpec => ({ headerLength, bodyLength });
const header = new Uint8Array(4);

describe('frame specs, as transports take them', () => {
  it('refuse a header length that is not a positive byte count', () => {
    for (const n of [0, -1, 1.5, NaN, Infinity]) {
      expect(() => checkFrameSpec(spec(() => 0, n))).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    }
    expect(() => checkFrameSpec(spec(() => 0, 32))).not.toThrow();
  });

  it('give the body length, and make anything else a FrameError', () => {
    expect(frameBodyLength(spec(() => 7), header, 0)).toBe(7);
    // The spec reads the header where it lies: it is told where.
    const seen: [Uint8Array, number][] = [];
    const bytes = new Uint8Array(12);
    expect(frameBodyLength(spec((b, at) => (seen.push([b, at]), b.length - at - 4)), bytes, 5)).toBe(3);
    expect(seen).toEqual([[bytes, 5]]);
    expect(seen[0]![0]).toBe(bytes);
    for (const bad of [-1, 1.5, NaN, 2 ** 53]) {
      expect(() => frameBodyLength(spec(() => bad), header, 0)).toThrow(FrameError);
    }
    expect(() => frameBodyLength(spec(() => { throw new TypeError('boom'); }), header, 0)).toThrow(new FrameError('frame header rejected: boom'));
  });

  it('keep a FrameError (its last words) and an RpcError (its code) as they are', () => {
    const lastWords = new FrameError('too big', Uint8Array.of(1));
    expect(() => frameBodyLength(spec(() => { throw lastWords; }), header, 0)).toThrow(lastWords);
    const tooLarge = new RpcError(ErrorCode.FrameTooLarge, 'over');
    expect(() => frameBodyLength(spec(() => { throw tooLarge; }), header, 0)).toThrow(tooLarge);
  });
});
