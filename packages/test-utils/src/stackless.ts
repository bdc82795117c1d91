import { RpcError } from '@skein/core';
import { afterEach, beforeEach, expect } from 'vitest';

/**
 * For tests of errors made without a stack trace (core's `withoutStack`): `Error.stackTraceLimit`
 * is `limit` in each test of the file and put back after. An odd limit, not V8's default, so that
 * code restoring a fixed value rather than the one it found shows (`expect(Error.stackTraceLimit).toBe(limit)`).
 */
export function stackTraceLimitInTests(limit = 17): number {
  let saved = 0;
  beforeEach(() => {
    saved = Error.stackTraceLimit;
    Error.stackTraceLimit = limit;
  });
  afterEach(() => {
    Error.stackTraceLimit = saved;
  });
  return limit;
}

/** Each call's rejection, an RpcError (a call that resolved fails the test). */
export async function rpcFailures(calls: Promise<unknown>[]): Promise<RpcError[]> {
  const out = await Promise.allSettled(calls);
  return out.map((r) => {
    expect(r.status).toBe('rejected');
    const err = (r as PromiseRejectedResult).reason as unknown;
    expect(err).toBeInstanceOf(RpcError);
    return err as RpcError;
  });
}

/** The stack of an error made without one: its first line alone. */
export function expectStackless(err: Error): void {
  expect(err.stack).toBe(`${err.name}: ${err.message}`);
}
