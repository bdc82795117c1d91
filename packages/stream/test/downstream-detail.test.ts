import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { freePort, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, createRouter, type ActionHandler } from '../src/index.js';
import { startServer, transport } from './harness.js';

const cleanup = cleanups();

/** Calls B on a stream B has since closed: fails Closed, its message naming B's address. */
async function closedB(): Promise<{ callB: () => Promise<unknown>; address: string }> {
  const b = await startServer({ 'B.work': () => undefined });
  const stream = await b.connect({ keepaliveMs: 0 });
  cleanup.push(() => stream.destroy());
  await b.server.close();
  await stream.closed();
  return { callB: () => stream.call('B.work'), address: b.address };
}

/**
 * Calls B, which is down, through a pool with room for one waiting call: while the first waits
 * for a connection that is refused, the second fails Overloaded, naming B's address.
 */
async function downB(): Promise<{ callB: () => Promise<unknown>; address: string }> {
  const address = `127.0.0.1:${await freePort()}`;
  const pool = new ConnPool({ transport, address, maxQueued: 1 });
  cleanup.push(() => pool.destroy());
  const callB = (): Promise<unknown> => {
    pool.call('B.work', undefined, { timeoutMs: 1_000 }).catch(() => {});
    return pool.call('B.work', undefined, { timeoutMs: 1_000 });
  };
  return { callB, address };
}

/** Client → server A, whose handler calls B and fails with what it got (thrown, or `req.fail(err)`). */
async function callThroughA(callB: () => Promise<unknown>, how: 'throw' | 'req.fail', exposeInternalErrors: boolean): Promise<RpcError> {
  const table: Record<string, ActionHandler> = {
    'A.op': async (req) => {
      try {
        await callB();
      } catch (err) {
        if (how === 'throw') throw err;
        req.fail(err as RpcError);
      }
    },
  };
  const a = await startServer(table, { dispatch: createRouter(table, { logger: silentLogger, exposeInternalErrors }) });
  cleanup.push(() => a.server.close());
  const client = await a.connect({ keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  const err = await client.call('A.op').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RpcError);
  return err as RpcError;
}

describe("a handler's downstream error, passed on: B's own message stays on A unless A exposes internal errors", () => {
  it.each(['throw', 'req.fail'] as const)('B closed, %s: Closed, "may have run", without B\'s address', async (how) => {
    const b = await closedB();
    const err = await callThroughA(b.callB, how, false);
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'idempotent' });
    expect(err.message).toBe('A.op: rpc_closed');
    expect(err.message).not.toContain(b.address);
  });

  it.each(['throw', 'req.fail'] as const)('B down, %s: Overloaded, "may have run", without B\'s address', async (how) => {
    const b = await downB();
    const err = await callThroughA(b.callB, how, false);
    expect(err).toMatchObject({ code: ErrorCode.Overloaded, retry: 'idempotent' });
    expect(err.message).toBe('A.op: rpc_overloaded');
    expect(err.message).not.toContain(b.address);
  });

  // Bad input, not allowed: a handler's words about the caller's own request are for the caller.
  it.each([ErrorCode.InvalidArgument, ErrorCode.PermissionDenied])('a handler\'s own %s keeps its message', async (code) => {
    const err = await callThroughA(() => Promise.reject(new RpcError(code, 'amount must be positive')), 'throw', false);
    expect(err).toMatchObject({ code, message: 'amount must be positive' });
  });

  it('with exposeInternalErrors, a thrown error\'s message travels, still "may have run"', async () => {
    const b = await closedB();
    const err = await callThroughA(b.callB, 'throw', true);
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'idempotent' });
    expect(err.message).toBe(`A.op: stream to ${b.address} is closed`);
  });

  // A request has no exposeInternalErrors of its own: what `req.fail(err)` sends is the same either way.
  it('req.fail(err) sends no message of the error\'s, even behind an exposing router', async () => {
    const b = await closedB();
    const err = await callThroughA(b.callB, 'req.fail', true);
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'idempotent', message: 'A.op: rpc_closed' });
  });
});
