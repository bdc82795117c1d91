import { ErrorCode, RpcError } from '@skein/core';
import { waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createRouter, type Caller } from '../src/index.js';
import { readU32, startServer, u32 } from './harness.js';

/*
 * `server.close()` stops the server's calls to its peers as it stops taking calls from them: a
 * reverse call made once the close began is refused at once, unsent (Closed, safe to make
 * elsewhere), from the first moment, not only once the listeners have closed and the drain begun
 * (until then it went out, and ran on a peer the server was leaving). One already out still
 * finishes within the drain.
 */

const cleanup = cleanups();

const call = (c: Caller, action: string, msg: Uint8Array) =>
  new Promise<Uint8Array>((resolve, reject) => c.send(action, msg, {}, (err, reply) => (err ? reject(err) : resolve(reply!.msg))));

describe('reverse calls while the server closes', () => {
  it('refuses a reverse call made after close() began, unsent, and lets the one out finish', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const ran: number[] = [];
    let finish: (() => void) | undefined;
    const peer = await s.connect({
      keepaliveMs: 0,
      serve: createRouter({
        slow: (req) => new Promise<Uint8Array>((r) => (finish = () => r(req.msg))),
        note: (req) => void ran.push(readU32(req.msg)),
      }),
    });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    const caller = s.server.openConnections()[0]!.caller!;
    const out = call(caller, 'slow', u32(7));
    out.catch(() => {});
    await waitFor(() => finish !== undefined, { what: 'the reverse call running on the peer' });
    const closing = s.server.close();
    // Made in the same turn as close(): the listeners have not closed yet.
    const late = await call(caller, 'note', u32(1)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(late).toBeInstanceOf(RpcError);
    expect(late).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    expect((late as RpcError).message).toMatch(/not sent/);
    finish!();
    expect(readU32(await out)).toBe(7);
    await closing;
    expect(ran).toEqual([]);
  });
});
