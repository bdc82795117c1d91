import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { ClientStream, RpcServer } from '@skein/stream';
import { cleanups, deferred, heldHandler, portOf, startTcpRelay, waitFor, within, expectStackless, rpcFailures, stackTraceLimitInTests } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type Filter } from '../src/index.js';
import { transport } from './harness.js';

/**
 * A typed call's error has the stack its Caller's error had, no more: errors that settle many
 * calls in one turn (a lost connection's IO, a shared signal's Cancelled, a client filter's wait
 * ended by either or by its timer) are stackless through a stub as through a raw
 * `ClientStream.call`, though the stub names each (a copy, with the method in front). A stack
 * made per copy named only the stub's and the stream's internals and was most of that turn's
 * time. A refusal raised at once in the caller's own call keeps its stack: it names the caller.
 * Real server, real TCP (through a relay the test cuts).
 */

const cleanup = cleanups();

const LIMIT = stackTraceLimitInTests();

const Svc = service('Svc', { hang: method<number, number>() });

/** A server whose `hang` answers only when the test lets it, reached through a relay; a client of it. */
async function heldServer(filters: Filter[] = []) {
  const held = heldHandler();
  const server = new RpcServer({
    dispatch: createServiceDispatch({ codec: msgpackCodec, logger: silentLogger, services: [implement(Svc, { hang: (n) => held.run(n) })] }),
  });
  const bound = await server.listen(transport, '127.0.0.1:0');
  const relay = await startTcpRelay(`127.0.0.1:${portOf(bound)}`);
  cleanup.push(
    () => held.endAll(),
    () => server.close(),
    () => relay.close(),
  );
  const stream = await ClientStream.connect({ transport, address: relay.address, window: 2 });
  cleanup.push(() => stream.destroy());
  await stream.ping(); // the hello is answered: calls carry their cancel
  return { held, relay, stream, svc: createClient(Svc, stream, { codec: msgpackCodec, filters }) };
}

describe("a typed call's error has its Caller's error's stack", () => {
  it('a lost connection: calls on the wire and waiting for the window fail with stackless IO, named', async () => {
    const { held, relay, svc } = await heldServer();
    const calls = Array.from({ length: 5 }, (_, i) => svc.hang(i));
    await waitFor(() => held.running === 2, { what: 'two calls on the server' });
    relay.cut();
    const errs = await rpcFailures(calls);
    for (const err of errs) {
      expect(err.code).toBe(ErrorCode.IO);
      expect(err.message).toMatch(/^Svc\.hang: connection to .* lost/);
      expect(err.cause).toBeInstanceOf(Error);
      expect(err.downstream).toBe(true);
      expectStackless(err);
    }
    expect(errs.slice(0, 2).map((e) => e.retry)).toEqual(['idempotent', 'idempotent']);
    expect(errs.slice(2).map((e) => e.retry)).toEqual(['safe', 'safe', 'safe']);
    expect(Error.stackTraceLimit).toBe(LIMIT);
  });

  it("one signal aborted under many calls: stackless Cancelled, the signal's reason its cause", async () => {
    const { held, svc } = await heldServer();
    const ac = new AbortController();
    const calls = Array.from({ length: 4 }, (_, i) => svc.hang(i, { signal: ac.signal }));
    await waitFor(() => held.running === 2, { what: 'two calls on the server' });
    ac.abort();
    for (const err of await rpcFailures(calls)) {
      expect(err.code).toBe(ErrorCode.Cancelled);
      expect(err.retry).toBe('never');
      expect(err.message).toMatch(/^Svc\.hang: call cancelled/);
      expect(err.cause).toBe(ac.signal.reason);
      expectStackless(err);
    }
    expect(Error.stackTraceLimit).toBe(LIMIT);
  });

  it("a client filter's wait ended by a shared signal or by its timeout: stackless", async () => {
    const gate = deferred<void>();
    const { svc } = await heldServer([{ before: () => gate.promise }]);
    cleanup.push(() => gate.resolve());
    const ac = new AbortController();
    const cancelled = Array.from({ length: 3 }, (_, i) => svc.hang(i, { signal: ac.signal }));
    const timed = Array.from({ length: 3 }, (_, i) => svc.hang(i, { timeoutMs: 100 }));
    ac.abort();
    for (const err of await rpcFailures(cancelled)) {
      expect(err.code).toBe(ErrorCode.Cancelled);
      expect(err.message).toBe('Svc.hang: cancelled while a client filter awaited; never sent');
      expect(err.cause).toBe(ac.signal.reason);
      expectStackless(err);
    }
    for (const err of await rpcFailures(timed)) {
      expect(err.code).toBe(ErrorCode.Timeout);
      expect(err.retry).toBe('safe');
      expect(err.message).toBe('Svc.hang: timed out after 100 ms while a client filter awaited; never sent');
      expectStackless(err);
    }
    expect(Error.stackTraceLimit).toBe(LIMIT);
    // Its signal aborted before the wait: ended at once, in the caller's own call, with a stack.
    const [early] = await rpcFailures([svc.hang(1, { signal: ac.signal })]);
    expect(early!.message).toBe('Svc.hang: cancelled while a client filter awaited; never sent');
    expect(early!.stack).toContain('typed-errors-stackless.test.ts');
  });

  it("a call refused at once in the caller's own call keeps a stack naming the caller, not the stub's copy", async () => {
    const { svc } = await heldServer();
    const ac = new AbortController();
    ac.abort();
    const [err] = await rpcFailures([svc.hang(1, { signal: ac.signal })]);
    expect(err!.code).toBe(ErrorCode.Cancelled);
    expect(err!.message).toMatch(/^Svc\.hang: call cancelled/);
    const [head, ...frames] = err!.stack!.split('\n');
    expect(head).toBe(`${err!.name}: ${err!.message}`);
    expect(frames.join('\n')).toContain('typed-errors-stackless.test.ts');
    // The Caller's frames, not those of the stub making its copy.
    expect(frames.join('\n')).not.toMatch(/\bat named \(/);
  });

  it("a user's Error.prepareStackTrace that throws leaves the call's error its named RpcError, without frames", async () => {
    const { svc } = await heldServer();
    const ac = new AbortController();
    ac.abort();
    // A formatter failing (a source-map handler on a frame it cannot map): V8 runs it when the
    // Caller's error's stack is first read, which the stub's copy does. Thrown there, out of the
    // Caller's callback, it left the call unsettled for ever (its promise never told).
    const saved = Error.prepareStackTrace;
    Error.prepareStackTrace = () => {
      throw new TypeError('formatter failed');
    };
    let settled: PromiseSettledResult<unknown>[];
    try {
      settled = await within(Promise.allSettled([svc.hang(1, { signal: ac.signal })]), 10_000, 'the typed call');
    } finally {
      // Put back before anything (the runner's report of a failure) formats a stack.
      Error.prepareStackTrace = saved;
    }
    const [err] = await rpcFailures(settled.map((r) => (r.status === 'rejected' ? Promise.reject(r.reason) : Promise.resolve(r.value))));
    expect(err!.code).toBe(ErrorCode.Cancelled);
    expect(err!.message).toMatch(/^Svc\.hang: call cancelled/);
    expectStackless(err!);
  });
});
