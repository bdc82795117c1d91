import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, withoutStack } from '../src/index.js';

/** withoutStack: an error made with no stack trace, and Error.stackTraceLimit as it was, whatever `make` does. */
describe('withoutStack', () => {
  it("makes the error `make` returns with a stack of its first line alone, keeping its fields", () => {
    const cause = new Error('socket reset');
    const err = withoutStack(() => new RpcError(ErrorCode.IO, 'connection to a:1 lost', { cause, retry: 'safe' }));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.stack).toBe('RpcError: connection to a:1 lost');
    expect([err.code, err.retry, err.cause, err.message]).toEqual([ErrorCode.IO, 'safe', cause, 'connection to a:1 lost']);
    // Made as usual, it has frames.
    expect(new RpcError(ErrorCode.IO).stack!.split('\n').length).toBeGreaterThan(1);
  });

  // Node's V8 formats `stack` when it is first read, calling Error.prepareStackTrace: a hook that
  // is not called shows withoutStack left it unread (the fix for Bun writes it only there).
  it('does not read (format) the stack where the engine gives one at limit 0, as V8 does', () => {
    const saved = Error.prepareStackTrace;
    let formatted = 0;
    let err: RpcError;
    Error.prepareStackTrace = () => {
      formatted++;
      return 'formatted';
    };
    try {
      err = withoutStack(() => new RpcError(ErrorCode.IO, 'connection to a:1 lost'));
      expect(formatted).toBe(0);
    } finally {
      Error.prepareStackTrace = saved;
    }
    expect(err.stack).toBe('RpcError: connection to a:1 lost');
  });

  it('puts Error.stackTraceLimit back as it found it, also when `make` throws', () => {
    const saved = Error.stackTraceLimit;
    try {
      Error.stackTraceLimit = 13;
      withoutStack(() => new Error('x'));
      expect(Error.stackTraceLimit).toBe(13);
      const thrown = new Error('make failed');
      expect(() =>
        withoutStack(() => {
          throw thrown;
        }),
      ).toThrow(thrown);
      expect(Error.stackTraceLimit).toBe(13);
    } finally {
      Error.stackTraceLimit = saved;
    }
  });
});
