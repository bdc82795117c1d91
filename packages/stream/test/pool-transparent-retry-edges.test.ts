import { EMPTY_BYTES, ErrorCode } from '@skein/core';
import { ManualClock, deferred, freePort, waitFor, within, cleanups } from '@skein/test-utils';
import { expect, it } from 'vitest';
import { ConnPool, RpcServer, createRouter } from '../src/index.js';
import { transport } from './harness.js';

// A ConnPool resends a call its connection refused before it ran (transparentRetries). The
// resend goes a microtask after the refusal: a signal that fires in between must stop it, and
// the caller learns that it cancelled the call, as it would from any call it aborted.

const cleanup = cleanups();

/**
 * A pool whose one connection's credentials' grant has run out on both sides, its alarm not yet
 * run on the client (its loop stalled): the next call is refused Closed, unsent, within `send`
 * itself (ClientStream.accept checks the grant), so the test acts between refusal and resend.
 */
async function refusingAtOnce() {
  const serverClock = new ManualClock();
  const clientClock = new ManualClock();
  const ran: string[] = [];
  const server = new RpcServer({
    dispatch: createRouter({ charge: (req) => (ran.push(new TextDecoder().decode(req.msg)), EMPTY_BYTES) }),
    clock: serverClock,
    authenticate: () => ({ principal: { name: 'short' }, expiresInMs: 1000 }),
  });
  cleanup.push(() => server.close());
  const port = await freePort();
  await server.listen(transport, `127.0.0.1:${port}`);
  const pool = new ConnPool({ transport, address: `127.0.0.1:${port}`, maxConnections: 1, clock: clientClock, stream: { credentials: 'x', keepaliveMs: 0 } });
  cleanup.push(() => pool.destroy());
  await within(pool.call('charge', new TextEncoder().encode('0')), 10_000, 'the first charge');
  serverClock.advance(1100); // the server's grant ran out
  clientClock.stall(1100); // the client's alarm has not fired
  return { pool, ran };
}

it('a signal fired between the refusal and the resend stops the resend: the call fails Cancelled, never run', async () => {
  const { pool, ran } = await refusingAtOnce();
  const ac = new AbortController();
  const outcome = pool.call('charge', new TextEncoder().encode('1'), { signal: ac.signal }).catch((e: unknown) => e);
  // Refused by now (unsent, Closed), its resend not yet made.
  ac.abort();
  expect(await within(outcome, 10_000, 'the aborted charge')).toMatchObject({ code: ErrorCode.Cancelled });
  // The pool still works, and the aborted call ran nowhere.
  await within(pool.call('charge', new TextEncoder().encode('2')), 10_000, 'the next charge');
  expect(ran).toEqual(['0', '2']);
});

it('without a signal, the same refusal is resent on a fresh connection and runs once', async () => {
  const { pool, ran } = await refusingAtOnce();
  await within(pool.call('charge', new TextEncoder().encode('1')), 10_000, 'the resent charge');
  expect(ran).toEqual(['0', '1']);
});

it('a resent call waiting for a fresh connection fails Closed, never run, when the pool closes', async () => {
  // The only server drains (its listener gone, a call of the pool held on it) and nobody takes the address over.
  const port = await freePort();
  const ran: string[] = [];
  const gate = deferred<void>();
  const server = new RpcServer({
    dispatch: createRouter({ hold: () => gate.promise.then(() => new Uint8Array([1])), charge: (req) => (ran.push(new TextDecoder().decode(req.msg)), EMPTY_BYTES) }),
    closeWaitMs: 10_000,
  });
  cleanup.push(() => server.close());
  await server.listen(transport, `127.0.0.1:${port}`);
  const pool = new ConnPool({ transport, address: `127.0.0.1:${port}`, maxConnections: 1, connectBudgetMs: 60_000, transparentRetries: 3 });
  cleanup.push(() => pool.destroy());
  const held = pool.call('hold');
  held.catch(() => undefined);
  await waitFor(() => server.stats().inFlight === 1, { what: 'the held call' });
  const closing = server.close();
  await waitFor(() => server.stats().listeners === 0, { what: 'the server to stop listening' });
  const outcome = pool.call('charge', new TextEncoder().encode('1'), { timeoutMs: 60_000 }).catch((e: unknown) => e);
  // Refused by the draining server, resent: it waits in the pool's line (the old connection carries only the held call).
  await waitFor(() => pool.queued === 1 && server.stats().inFlight === 1 && pool.state !== 'ready', { what: 'the resent call to wait for a connection' });
  const poolClosed = pool.close();
  expect(await within(outcome, 10_000, 'the resent call')).toMatchObject({ code: ErrorCode.Closed });
  gate.resolve();
  await within(Promise.all([held, poolClosed, closing]), 10_000, 'the held call, the pool and the server to close');
  expect(ran).toEqual([]);
});
