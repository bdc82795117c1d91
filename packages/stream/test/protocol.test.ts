import { CODE_INFO, ErrorCode, FrameError } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { fromHex } from '@skein/test-utils';
import { DEFAULT_LIMITS, protocol } from '../src/index.js';
import { requestFrameSpec, responseFrameSpec } from '../src/wire/frame-specs.js';
import { customErrorResponse, errorResponse } from '../src/wire/responses.js';
import { errorStringFrame, golden } from './golden.js';

const { writeRequestHeader, writeResponseHeader, readRequestHeader, readResponseHeader } = protocol;

function request(action: number | string, seq: number, msg: Uint8Array, blob: Uint8Array): Uint8Array {
  const a = typeof action === 'string' ? new TextEncoder().encode(action) : new Uint8Array(0);
  const out = new Uint8Array(32 + a.length + msg.length + blob.length);
  writeRequestHeader(out, typeof action === 'string' ? '' : action, a.length, seq, msg.length, blob.length);
  out.set(a, 32);
  out.set(msg, 32 + a.length);
  out.set(blob, 32 + a.length + msg.length);
  return out;
}

describe('request header', () => {
  it('writes a string-action request with msg and blob byte for byte', () => {
    expect(request('Calculator.add', 1, fromHex('010203'), fromHex('aabb'))).toEqual(golden.stringActionRequest);
  });

  it('writes a numeric action', () => {
    expect(request(7, 2, fromHex('0908'), new Uint8Array(0))).toEqual(golden.numericActionRequest);
  });

  it('writes a ping', () => {
    expect(request(0, 3, new Uint8Array(0), new Uint8Array(0))).toEqual(golden.ping);
  });

  it('reads back every field, including a seq above 2^32', () => {
    const h = new Uint8Array(32);
    writeRequestHeader(h, '', 14, 2 ** 40 + 5, 3, 2);
    expect(readRequestHeader(h)).toEqual({ action: -1, actionLength: 14, seq: 2 ** 40 + 5, msgLength: 3, blobLength: 2 });
  });
});

describe('response header', () => {
  it('writes the pong and an ok reply', () => {
    const pong = new Uint8Array(20);
    writeResponseHeader(pong, 0, 0, 3, 0);
    expect(pong).toEqual(golden.pong);
    const ok = new Uint8Array(22);
    writeResponseHeader(ok, 0, 1, 1, 1);
    ok.set([3, 0xff], 20);
    expect(ok).toEqual(golden.okReply);
  });

  it('writes a numeric custom error with flag 1 and a string error with flag 2', () => {
    expect(customErrorResponse(1, 1)).toEqual(golden.errorNumber);
    expect(errorResponse(1, ErrorCode.Timeout)).toEqual(golden.errorString);
  });

  it.each(Object.entries(CODE_INFO))('writes built-in error %s as its reserved string', (code, { wire }) => {
    expect(errorResponse(9, Number(code) as ErrorCode)).toEqual(errorStringFrame(9, wire));
  });

  it('echoes the request seq bytes verbatim', () => {
    const seq = fromHex('0102030405060708');
    const out = errorResponse(seq, ErrorCode.Method);
    expect(out.subarray(8, 16)).toEqual(seq);
  });

  it('reads a response header', () => {
    expect(readResponseHeader(golden.okReply)).toEqual({ flag: 0, msgLength: 1, seq: 1, blobLength: 1 });
  });
});

describe('frame specs enforce limits before any allocation', () => {
  const req = requestFrameSpec({ ...DEFAULT_LIMITS, maxMessage: 100, maxBlob: 100, maxAction: 16 });
  const header = (mut: (b: Buffer) => void) => {
    const b = Buffer.from(golden.numericActionRequest.subarray(0, 32));
    mut(b);
    return new Uint8Array(b);
  };

  it('accepts a good header and returns its body length', () => {
    expect(req.bodyLength(golden.stringActionRequest.subarray(0, 32), 0)).toBe(14 + 3 + 2);
  });

  it('reads a header where it lies, after other bytes', () => {
    const chunk = new Uint8Array(7 + golden.stringActionRequest.length);
    chunk.set(golden.stringActionRequest, 7);
    expect(req.bodyLength(chunk, 7)).toBe(14 + 3 + 2);
    const replies = new Uint8Array(3 + golden.errorString.length);
    replies.set(golden.errorString, 3);
    expect(responseFrameSpec(DEFAULT_LIMITS).bodyLength(replies, 3)).toBe(11);
    // An oversized message at an offset is refused with a reply to that header's seq (1).
    const big = Buffer.from(chunk);
    big.writeUInt32LE(101, 7 + 24);
    expect(catchFrame(() => req.bodyLength(new Uint8Array(big), 7)).lastWords).toEqual(errorStringFrame(1, "rpc_frame_too_large:message of 101 bytes exceeds the server's limit of 100"));
  });

  it('rejects a bad magic with no reply (the stream is out of step)', () => {
    const e = catchFrame(() => req.bodyLength(header((b) => b.writeUInt16LE(0x1234, 0)), 0));
    expect(e.message).toMatch(/bad magic/);
    expect(e.lastWords).toBeUndefined();
  });

  it('rejects a bad version with an rpc_invalid_ver reply to the same seq', () => {
    const e = catchFrame(() => req.bodyLength(header((b) => (b[2] = 2)), 0));
    expect(e.lastWords).toEqual(errorStringFrame(2, 'rpc_invalid_ver'));
  });

  // The reply says by how much: the sender may not know the limit for its kind.
  it.each([
    ['message', (b: Buffer) => b.writeUInt32LE(101, 24), 'message of 101 bytes exceeds the server\'s limit of 100'],
    ['blob', (b: Buffer) => b.writeUInt32LE(0xffffffff, 28), 'blob of 4294967295 bytes exceeds the server\'s limit of 100'],
    ['action', (b: Buffer) => b.writeUInt32LE(0x80000000 + 17, 4), 'action of 17 bytes exceeds the server\'s limit of 16'],
  ])('rejects an oversized %s with rpc_frame_too_large, saying by how much', (_what, mut, detail) => {
    const e = catchFrame(() => req.bodyLength(header(mut), 0));
    expect(e.lastWords).toEqual(errorStringFrame(2, `rpc_frame_too_large:${detail}`));
  });

  it('rejects a response with an unknown flag or an oversized blob', () => {
    const res = responseFrameSpec({ ...DEFAULT_LIMITS, maxBlob: 10 });
    const bad = Buffer.from(golden.pong);
    bad[3] = 7;
    expect(() => res.bodyLength(new Uint8Array(bad), 0)).toThrow(FrameError);
    const big = Buffer.from(golden.pong);
    big.writeInt32LE(11, 16);
    expect(() => res.bodyLength(new Uint8Array(big), 0)).toThrow(/exceeds/);
    const ok = responseFrameSpec(DEFAULT_LIMITS);
    expect(ok.bodyLength(golden.errorNumber.subarray(0, 20), 0)).toBe(0);
    expect(ok.bodyLength(golden.errorString.subarray(0, 20), 0)).toBe(11);
  });
});

function catchFrame(f: () => unknown): FrameError {
  try {
    f();
  } catch (e) {
    if (e instanceof FrameError) return e;
    throw e;
  }
  throw new Error('expected a FrameError');
}
