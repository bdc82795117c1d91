import { ErrorCode, type RpcError } from '@skein/core';
import { ManualClock, deferred, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { ServerRequest } from '../src/index.js';
import { readU32, startServer, u32 } from './harness.js';

const cleanup = cleanups();

describe('RpcServer.close() and handlers nobody waits for', () => {
  it('does not wait closeWaitMs for handlers that ignore their signal on a connection the client already left', { timeout: 20_000 }, async () => {
    const hung: ServerRequest[] = [];
    let settled = 0;
    const s = await startServer(
      {
        hang: (req) => {
          hung.push(req);
          return new Promise<Uint8Array>(() => {}).finally(() => settled++);
        },
        echo: (req) => req.msg,
      },
      // Far longer than the test may run: close must not be waiting for it.
      { closeWaitMs: 60_000 },
    );
    const gone = await s.connect();
    const stays = await s.connect();
    cleanup.push(() => stays.destroy());
    await gone.ping(); // the hello's answer is in: a call with a deadline goes with its head
    // One plain call, one with a head (a deadline): each has its own kind of signal.
    void gone.call('hang').catch(() => {});
    void gone.call('hang', undefined, { timeoutMs: 120_000 }).catch(() => {});
    await waitFor(() => hung.length === 2, { what: 'both calls to be handled' });
    gone.destroy();
    // A connection still there is let finish what it does, as before.
    expect((await stays.call('echo', u32(5))).msg).toEqual(u32(5));
    await within(s.server.close(), 15_000, 'server close');
    expect(s.server.state).toBe('closed');
    expect(settled).toBe(0); // the handlers still hang
    for (const req of hung) {
      expect(req.signal.aborted).toBe(true);
      expect(req.isAnswered).toBe(false);
    }
    expect((hung[1]!.signal.reason as RpcError).code).toBe(ErrorCode.IO);
  });
});

/** A server stream that sends 1, waits for `gate`, sends 2 and answers 3: open as long as the test says. */
function gatedFeed(gate: Promise<void>) {
  return async (req: ServerRequest): Promise<Uint8Array> => {
    await req.stream!.write(u32(1));
    await gate;
    await req.stream!.write(u32(2));
    return u32(3);
  };
}

describe('open streams keep their connection', () => {
  it('close() lets an open stream finish, as it does a call in flight', { timeout: 20_000 }, async () => {
    const clock = new ManualClock();
    const gate = deferred();
    const s = await startServer({ feed: gatedFeed(gate.promise) }, { clock, tickMs: 100, closeWaitMs: 60_000 });
    const client = await s.connect();
    cleanup.push(() => client.destroy());
    const stream = client.openStream('feed');
    const items = stream[Symbol.asyncIterator]();
    expect(readU32((await items.next()).value!.msg)).toBe(1);
    const closing = s.server.close();
    await waitFor(() => s.server.stats().listeners === 0, { what: 'the server to drain its connections' });
    clock.advance(10_000); // drain ticks: the client is quiet, sending nothing
    gate.resolve();
    expect(readU32((await items.next()).value!.msg)).toBe(2);
    expect(readU32((await stream.result).msg)).toBe(3);
    await within(closing, 15_000, 'server close');
  });

  it('a connection that carries only a stream is not idle', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    const s = await startServer({ feed: gatedFeed(gate.promise) }, { clock, tickMs: 100, idleTimeoutMs: 1000, closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.destroy());
    const stream = client.openStream('feed');
    const items = stream[Symbol.asyncIterator]();
    expect(readU32((await items.next()).value!.msg)).toBe(1);
    clock.advance(10_000); // ten idle timeouts' worth of ticks, with no call
    expect(s.server.connections).toBe(1);
    gate.resolve();
    expect(readU32((await items.next()).value!.msg)).toBe(2);
    expect(readU32((await stream.result).msg)).toBe(3);
  });
});
