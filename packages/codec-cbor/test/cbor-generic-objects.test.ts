import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@skein/core';
import { Decoder } from 'cbor-x';
import { fromHex } from '@skein/test-utils';
import { cbor, cborCodec } from '../src/index.js';

/**
 * Tag 27 (`[name, message, options]`): cbor-x's Error and RegExp. An Error is read with no stack
 * trace: one captured per Error made a 1.5 MB message of 524,000 of them (within maxContainers)
 * take 4.3 s of CPU and hold 272 MB, and its frames were cbor-x's own. A RegExp is read only
 * with `regExps: true`: making one parses its source at once, 60 µs a byte for `\p{L}`.
 */

const text = (s: string): string => {
  const bytes = Buffer.from(s);
  const head = bytes.length < 24 ? (0x60 | bytes.length).toString(16) : bytes.length < 256 ? `78${bytes.length.toString(16).padStart(2, '0')}` : `79${bytes.length.toString(16).padStart(4, '0')}`;
  return head + bytes.toString('hex');
};
const regExp = (source: string, flags: string): Uint8Array => fromHex(`d81b 83 ${text('RegExp')} ${text(source)} ${text(flags)}`);

const refusedRegExp = expect.objectContaining({ code: ErrorCode.Decode, message: expect.stringContaining('tag 27 RegExp') });

describe('cbor tag 27: Error', () => {
  it('reads an Error with its message and no stack frames, and leaves Error.stackTraceLimit as it was', () => {
    const before = Error.stackTraceLimit;
    const error = cborCodec.decode(fromHex(`d81b 82 ${text('Error')} ${text('boom')}`)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('boom');
    expect(error.stack).toBe('Error: boom');
    expect(Error.stackTraceLimit).toBe(before);
  });

  it('reads what the codec writes for an Error, many in one message, and its cause', () => {
    const errors = cborCodec.decode(cborCodec.encode(Array.from({ length: 300 }, (_, i) => new TypeError(`e${i}`)))) as Error[];
    expect(errors.map((e) => [e.constructor, e.message, e.stack])).toEqual(Array.from({ length: 300 }, (_, i) => [Error, `e${i}`, `Error: e${i}`]));
    const caused = cborCodec.decode(fromHex(`d81b 83 ${text('Error')} ${text('outer')} a1 ${text('cause')} 05`)) as Error;
    expect([caused.message, caused.cause]).toEqual(['outer', 5]);
  });

  it('reads any other name as an Error, names of Object.prototype too', () => {
    for (const name of ['Function', 'eval', 'constructor', 'toString', '__proto__']) {
      const value = cborCodec.decode(fromHex(`d81b 82 ${text(name)} ${text('hi')}`));
      expect(value).toBeInstanceOf(Error);
      expect((value as Error).message).toBe('hi');
    }
  });
});

describe('cbor tag 27: RegExp', () => {
  it('is a Decode error by default, small or large, a source costly to parse or not', () => {
    expect(() => cborCodec.decode(cborCodec.encode(/a+b/gi))).toThrow(refusedRegExp);
    expect(() => cborCodec.decode(regExp('x*', 'm'))).toThrow(refusedRegExp);
    // Over 256 bytes (read in place), and 60 µs of parsing a byte: 1,000 \p{L} took V8 0.3 s.
    expect(() => cborCodec.decode(regExp('\\p{L}'.repeat(1000), 'u'))).toThrow(refusedRegExp);
  });

  it('is read as before with regExps: true', () => {
    const trusting = cbor({ regExps: true });
    expect(trusting.decode(trusting.encode(/a+b/gi))).toEqual(/a+b/gi);
    expect(trusting.decode(regExp('x*', 'm'))).toEqual(/x*/m);
    expect(trusting.decode(trusting.encode([/a/, 'x'.repeat(300)]))).toEqual([/a/, 'x'.repeat(300)]);
  });

  it("is read as before by another cbor-x user's decoder, also after a codec refused one", () => {
    expect(() => cborCodec.decode(regExp('x*', 'm'))).toThrow(refusedRegExp);
    expect(new Decoder().decode(regExp('x*', 'm'))).toEqual(/x*/m);
  });
});
