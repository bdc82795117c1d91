import { ErrorCode } from '@skein/core';
import { cleanups, heldHandler, startTcpRelay, waitFor, expectStackless, rpcFailures, stackTraceLimitInTests } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, ConnPool, RpcServer, createRouter } from '../src/index.js';
import { transport } from './harness.js';

/**
 * Errors that settle many calls in one turn (a lost connection, a shared signal aborted, the
 * deadline sweep, a pool's close) are made without a stack trace: it named only Skein's own
 * handlers (the socket's close, the ticker, the signal's listener), never the caller's code, and
 * capturing one per call was most of that turn. Real server, real TCP (through a relay the test
 * cuts or stalls). Each error keeps its code, retry, cause and message; its stack is its first
 * line; `Error.stackTraceLimit` is as it was.
 */

const cleanup = cleanups();

const LIMIT = stackTraceLimitInTests();

const msg = new Uint8Array([1]);

/** A server whose action 1 never answers until the test lets it, reached through a relay. */
async function heldServer() {
  const held = heldHandler();
  const server = new RpcServer({ dispatch: createRouter({ 1: (req) => held.run(req.msg) }) });
  const bound = await server.listen(transport, '127.0.0.1:0');
  const relay = await startTcpRelay(`127.0.0.1:${bound.port}`);
  cleanup.push(
    () => held.endAll(),
    () => server.close(),
    () => relay.close(),
  );
  return { held, relay };
}

describe('errors that fail many calls at once carry no stack', () => {
  it('a lost connection: calls on the wire, waiting for the window, a ping and a stream', async () => {
    const { held, relay } = await heldServer();
    const stream = await ClientStream.connect({ transport, address: relay.address, window: 2 });
    cleanup.push(() => stream.close());
    const calls = Array.from({ length: 5 }, () => stream.call(1, msg));
    await waitFor(() => held.running === 2, { what: 'two calls on the server' });
    const open = stream.openStream(1, msg);
    await waitFor(() => held.running === 3, { what: 'the stream open on the server' });
    // Sent in the cut's turn: unanswered when the connection goes.
    const ping = stream.ping();
    relay.cut();
    const [streamErr] = await rpcFailures([open.result]);
    expect(streamErr!.code).toBe(ErrorCode.IO);
    expect(streamErr!.message).toMatch(/^connection to .* lost mid-stream: /);
    expectStackless(streamErr!);
    const errs = await rpcFailures([...calls, ping]);
    const [onWire, waiting, pinged] = [errs.slice(0, 2), errs.slice(2, 5), errs[5]!];
    for (const err of errs) {
      expect(err.code).toBe(ErrorCode.IO);
      expect(err.cause).toBeInstanceOf(Error);
      expectStackless(err);
    }
    for (const err of onWire) {
      expect(err.message).toMatch(/^connection to .* lost: /);
      expect(err.retry).toBe('idempotent');
    }
    for (const err of waiting) {
      expect(err.message).toMatch(/^connection to .* lost before the call was sent: /);
      expect(err.retry).toBe('safe');
    }
    expect(pinged.message).toMatch(/lost before a ping was answered/);
    expect(Error.stackTraceLimit).toBe(LIMIT);
  });

  it('one signal aborted under many calls; a call whose signal aborted already keeps its stack', async () => {
    const { held, relay } = await heldServer();
    const stream = await ClientStream.connect({ transport, address: relay.address, window: 2 });
    cleanup.push(() => stream.close());
    const ac = new AbortController();
    const calls = Array.from({ length: 4 }, () => stream.call(1, msg, { signal: ac.signal }));
    await waitFor(() => held.running === 2, { what: 'two calls on the server' });
    ac.abort();
    for (const err of await rpcFailures(calls)) {
      expect(err.code).toBe(ErrorCode.Cancelled);
      expect(err.retry).toBe('never');
      expect(err.message).toMatch(/^call cancelled/);
      expectStackless(err);
    }
    expect(Error.stackTraceLimit).toBe(LIMIT);
    // Refused in the caller's own call: there a stack points at the caller.
    const [late] = await rpcFailures([stream.call(1, msg, { signal: ac.signal })]);
    expect(late!.code).toBe(ErrorCode.Cancelled);
    expect(late!.stack!.split('\n').length).toBeGreaterThan(1);
  });

  it('the deadline sweep: calls on the wire and waiting for the window time out', async () => {
    const { held, relay } = await heldServer();
    const stream = await ClientStream.connect({ transport, address: relay.address, window: 2 });
    cleanup.push(() => stream.close());
    const calls = Array.from({ length: 4 }, () => stream.call(1, msg, { timeoutMs: 150 }));
    await waitFor(() => held.running === 2, { what: 'two calls on the server' });
    // The server's own Timeout answers (it keeps their deadlines too) do not reach the client.
    relay.stall();
    const errs = await rpcFailures(calls);
    for (const err of errs) {
      expect(err.code).toBe(ErrorCode.Timeout);
      expectStackless(err);
    }
    expect(errs[0]!.message).toMatch(/^no reply from .* within 150 ms$/);
    expect(errs[0]!.retry).toBe('idempotent');
    expect(errs[3]!.message).toBe('call waited 150 ms for the window and was never sent');
    expect(errs[3]!.retry).toBe('safe');
    expect(Error.stackTraceLimit).toBe(LIMIT);
    // Stalled, a graceful close would wait for the keepalive to give up.
    relay.cut();
  });

  it("a pool's calls waiting for a connection: its close and its sweep", async () => {
    const relay = await startTcpRelay('127.0.0.1:9');
    cleanup.push(() => relay.close());
    // Connections to it are accepted and never answered: the calls wait for the hello's end.
    relay.mute();
    const pool = new ConnPool({ transport, address: relay.address });
    const timed = Array.from({ length: 3 }, () => pool.call(1, msg, { timeoutMs: 150 }));
    const timedErrs = await rpcFailures(timed);
    const untimed = Array.from({ length: 3 }, () => pool.call(1, msg));
    await pool.close();
    const closedErrs = await rpcFailures(untimed);
    for (const err of timedErrs) {
      expect(err.code).toBe(ErrorCode.Timeout);
      expect(err.retry).toBe('safe');
      expectStackless(err);
    }
    for (const err of closedErrs) {
      expect(err.code).toBe(ErrorCode.Closed);
      expect(err.message).toMatch(/closed before the call was sent$/);
      expectStackless(err);
    }
    expect(Error.stackTraceLimit).toBe(LIMIT);
  });
});
