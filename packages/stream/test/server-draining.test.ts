import { ErrorCode, RpcError } from '@skein/core';
import { waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createRouter, type Caller, type ServerRequest } from '../src/index.js';
import { readU32, startServer, u32 } from './harness.js';

const cleanup = cleanups();

/** Far longer than the test runs: a close that waited for the stream would fail its safety net. */
const CLOSE_WAIT_MS = 30_000;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('req.conn.draining: a stream learns that its server began to close', () => {
  it('a raw server stream that writes until conn.draining ends normally with every item, and close() need not wait closeWaitMs', { timeout: 20_000 }, async () => {
    const handled: ServerRequest[] = [];
    let written = 0;
    // Writes an item per turn until the server drains, then answers with how many it wrote.
    const feed = async (req: ServerRequest): Promise<Uint8Array> => {
      handled.push(req);
      while (!req.conn.draining.aborted) {
        await req.stream!.write(u32(written++));
        await nextTurn();
      }
      return u32(written);
    };
    const s = await startServer({ feed }, { closeWaitMs: CLOSE_WAIT_MS, tickMs: 100 });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.destroy());
    expect(s.server.draining.aborted).toBe(false);
    const stream = client.openStream('feed');
    const events: string[] = [];
    const got: number[] = [];
    let closing: Promise<void> | undefined;
    const reading = (async () => {
      for await (const item of stream) {
        got.push(readU32(item.msg));
        if (got.length === 3) closing = s.server.close().then(() => void events.push('server closed'));
      }
      events.push('stream ended normally');
    })();
    await within(reading, 15_000, 'the stream to end');
    const result = await stream.result;
    await within(closing!, 15_000, 'server close');
    expect(events).toEqual(['stream ended normally', 'server closed']);
    expect(readU32(result.msg)).toBe(written);
    expect(got).toEqual(Array.from({ length: written }, (_, i) => i));
    const req = handled[0]!;
    expect(req.conn.draining).toBe(s.server.draining);
    expect((req.conn.draining.reason as RpcError).code).toBe(ErrorCode.Closed);
    expect(req.signal.aborted).toBe(false); // draining is no cancel
  });
});

const call = (c: Caller, action: string, msg: Uint8Array) =>
  new Promise<Uint8Array>((resolve, reject) => c.send(action, msg, {}, (err, reply) => (err ? reject(err) : resolve(reply!.msg))));

describe('conn.draining on a client that serves calls both ways', () => {
  it("fires when the client begins to close: a reverse call's handler waiting on it answers, and the close completes", { timeout: 20_000 }, async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const running: ServerRequest[] = [];
    const peer = await s.connect({
      keepaliveMs: 0,
      serve: createRouter({
        // A long poll the server makes of its peer: answered only once the peer begins to close.
        poll: (req) => {
          running.push(req);
          return new Promise<Uint8Array>((resolve) => req.conn.draining.addEventListener('abort', () => resolve(u32(req.signal.aborted ? 0 : 7)), { once: true }));
        },
      }),
    });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    // It answers 7 when its signal had not fired as draining did (draining is no cancel), else 0.
    const out = call(s.server.openConnections()[0]!.caller!, 'poll', u32(0));
    await waitFor(() => running.length === 1, { what: 'the reverse call running on the peer' });
    expect(running[0]!.conn.draining.aborted).toBe(false);
    const events: string[] = [];
    const closing = peer.close().then(() => void events.push('client closed'));
    expect(readU32(await within(out, 15_000, 'the reverse call to answer'))).toBe(7);
    events.push('reverse call answered');
    await within(closing, 15_000, 'client close');
    expect(events).toEqual(['reverse call answered', 'client closed']);
    expect((running[0]!.conn.draining.reason as RpcError).code).toBe(ErrorCode.Closed);
    // The server's own draining is another matter: it did not begin to close.
    expect(s.server.draining.aborted).toBe(false);
  });
});
