import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, connectAborted, whenAborted } from '../src/index.js';

/** What a connect given up by its signal rejects with, and the hook every connect that takes one uses. */
describe('connectAborted', () => {
  it('is Cancelled (retry never: its caller gave it up), naming the remote, the abort reason as cause', () => {
    const reason = new Error('pool closed');
    const err = connectAborted('127.0.0.1:4000', reason);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Cancelled, retry: 'never', message: 'connect to 127.0.0.1:4000 aborted', cause: reason });
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
