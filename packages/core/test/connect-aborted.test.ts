import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, connectAborted, isTimeoutReason, whenAborted } from '../src/index.js';

/** What a connect given up by its signal rejects with, and the hook every connect that takes one uses. */
describe('connectAborted', () => {
  it('is Cancelled (retry never: its caller gave it up), naming the remote, the abort reason as cause', () => {
    const reason = new Error('pool closed');
    const err = connectAborted('127.0.0.1:4000', reason);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Cancelled, retry: 'never', message: 'connect to 127.0.0.1:4000 aborted', cause: reason });
  });
});

describe('connectAborted of a signal that timed out', () => {
  it("is Timeout (retry never, as its Cancelled), naming the signal's reason, the reason as cause", () => {
    const reason = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const err = connectAborted('127.0.0.1:4000', reason);
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'never', message: 'connect to 127.0.0.1:4000 timed out (its signal: TimeoutError: The operation was aborted due to timeout)', cause: reason });
  });

  it('so is any Error named TimeoutError, and a Timeout RpcError (a handler\'s signal at its deadline); an AbortError, a string or none is Cancelled', () => {
    const named = Object.assign(new Error('too slow'), { name: 'TimeoutError' });
    const deadline = new RpcError(ErrorCode.Timeout, 'Svc.m: deadline passed');
    for (const r of [named, deadline]) expect(isTimeoutReason(r)).toBe(true);
    expect(connectAborted('h:1', named).code).toBe(ErrorCode.Timeout);
    for (const r of [new DOMException('aborted', 'AbortError'), new RpcError(ErrorCode.Closed), 'TimeoutError', { name: 'TimeoutError' }, undefined]) {
      expect(isTimeoutReason(r)).toBe(false);
      expect(connectAborted('h:1', r).code).toBe(ErrorCode.Cancelled);
    }
  });
});

describe('whenAborted', () => {
  it('tells once at the abort, and unhooks itself then; the unhook before it removes the listener', () => {
    const abort = new AbortController();
    let told = 0;
    whenAborted(abort.signal, () => told++);
    const unhook = whenAborted(abort.signal, () => told++);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(2);
    unhook();
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(1);
    abort.abort();
    abort.abort();
    expect(told).toBe(1);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
  });

  it('tells at once for a signal aborted already, adding nothing, and costs nothing without one', () => {
    const signal = AbortSignal.abort();
    let told = 0;
    whenAborted(signal, () => told++)();
    expect(told).toBe(1);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    whenAborted(undefined, () => told++)();
    expect(told).toBe(1);
  });
});
