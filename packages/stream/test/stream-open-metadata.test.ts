import { ErrorCode, RpcError } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, type CallOptions, type StreamCall } from '../src/index.js';
import { startServer, transport } from './harness.js';

/*
 * Found by helper 275: a unary `send`/`call` refuses metadata that is no record (plain JS: null,
 * a string) with InvalidArgument; a raw `openStream` did not: null failed with a bare TypeError,
 * and a string's characters went to the handler as entries ({ 0: 'x', 1: 'y' }). A stream is
 * refused as a unary call is now (one check, internals/checks.ts), unopened, on a ClientStream
 * and through either pool; its connection goes on.
 */

const cleanup = cleanups();
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
// An array's items went as entries `{ 0: 'x' }` on every path. A revoked Proxy cannot even be
// asked whether it is an array: that TypeError was thrown out of the check.
const revoked = Proxy.revocable({ k: 'v' }, {});
revoked.revoke();
const notRecords = [null, 'xy', ['x'], revoked.proxy] as unknown as CallOptions['metadata'][];
const refused = { code: ErrorCode.InvalidArgument, message: 'metadata must be an object of strings', retry: 'never' };

/** A server whose `meta` handler answers with the metadata it read; `ran` lists each. */
async function server() {
  const ran: string[] = [];
  const s = await startServer({
    meta: (req) => {
      const read = JSON.stringify({ ...req.metadata });
      ran.push(read);
      return new TextEncoder().encode(read);
    },
  });
  cleanup.push(() => s.server.close());
  return { ...s, ran };
}

/** What a stream ended with: its error, or its reply's text. */
const outcome = (stream: StreamCall): Promise<unknown> => stream.result.then((r) => text(r.msg), (err: unknown) => err);

interface Opener {
  openStream(action: string, msg?: Uint8Array, opts?: CallOptions): StreamCall;
}

/** Each metadata that is no record is refused, its handler never run; then a stream with a record opens through the same opener. */
async function expectRefused(open: Opener, ran: () => string[]): Promise<void> {
  for (const metadata of notRecords) {
    const err = await outcome(open.openStream('meta', undefined, { metadata }));
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject(refused);
    expect((err as Error).message).toBe(refused.message);
  }
  expect(ran()).toEqual([]);
  expect(await outcome(open.openStream('meta', undefined, { metadata: { k: 'v' } }))).toBe('{"k":"v"}');
  expect(ran()).toEqual(['{"k":"v"}']);
}

describe('a raw openStream whose metadata is no record', () => {
  it('on a ClientStream: refused with InvalidArgument, as a unary call, unopened; the connection goes on', async () => {
    const s = await server();
    const client = await s.connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    // The unary refusal it matches.
    for (const metadata of notRecords) await expect(client.call('meta', undefined, { metadata })).rejects.toMatchObject(refused);
    await expectRefused(client, () => s.ran);
    expect(client.openStreams).toBe(0);
    expect(client.state).toBe('open');
    expect(s.server.connections).toBe(1);
  });

  it('through a ConnPool: refused so, not opened again', async () => {
    const s = await server();
    const pool = new ConnPool({ transport, address: s.address, maxConnections: 1, stream: { keepaliveMs: 0 } });
    cleanup.push(() => pool.close());
    await expectRefused(pool, () => s.ran);
    expect(pool.stats().connections).toBe(1);
  });

  it('through a FailoverPool: refused so, never tried on another server', async () => {
    const a = await server();
    const b = await server();
    const pool = new FailoverPool({ transport, servers: [a.address, b.address], retries: 2, pool: { stream: { keepaliveMs: 0 } } });
    cleanup.push(() => pool.close());
    await expectRefused(pool, () => [...a.ran, ...b.ran]);
  });
});
