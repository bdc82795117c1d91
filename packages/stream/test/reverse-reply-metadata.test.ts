import { ErrorCode } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type Metadata } from '../src/index.js';
import { callerOf, sendBy } from './reverse-harness.js';
import { transport } from './harness.js';

/*
 * `onReplyMetadata` on a reverse call (a server calling the peer on a connection it accepted): as
 * on any call, told once as the answer comes, an empty record (a connecting side's handler sets
 * none on a reverse answer); not told when the call ends without an answer. It was never told.
 */

const cleanup = cleanups();
const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'answered', (e: unknown) => e);

async function connected(handler: () => Uint8Array | Promise<Uint8Array>) {
  const server = new RpcServer({ dispatch: createRouter({}) });
  cleanup.push(() => server.close());
  const a = (await server.listen(transport, '127.0.0.1:0')) as { port: number };
  const peer = await ClientStream.connect({ transport, address: `127.0.0.1:${a.port}`, keepaliveMs: 0, serveWindow: 2, serve: createRouter({ 'p.x': handler }) });
  cleanup.push(() => peer.destroy());
  await peer.ping();
  return callerOf(server);
}

describe('onReplyMetadata on a reverse call', () => {
  it('is told an empty record once, as the answer comes, before the call settles', async () => {
    const caller = await connected(() => new Uint8Array([7]));
    const told: Metadata[] = [];
    let settledFirst = false;
    const done = sendBy(caller, 'p.x', new Uint8Array(0), { onReplyMetadata: (md) => told.push(md) }).then((r) => {
      settledFirst = told.length === 0;
      return r;
    });
    expect(await done).toEqual(new Uint8Array([7]));
    expect(told).toEqual([{}]);
    expect(settledFirst).toBe(false);
  });

  it('is not told when the call ends without an answer (cancelled), and a non-function is refused', async () => {
    const caller = await connected(() => new Promise<Uint8Array>(() => {}));
    const told: Metadata[] = [];
    const ac = new AbortController();
    const cancelled = failure(sendBy(caller, 'p.x', new Uint8Array(0), { signal: ac.signal, onReplyMetadata: (md) => told.push(md) }));
    ac.abort();
    expect(await cancelled).toMatchObject({ code: ErrorCode.Cancelled });
    // What the peer answers to the cancel comes before a later call's answer, for a call settled already: nobody is told.
    expect(await sendBy(caller, 'q.x', new Uint8Array(0)).catch(() => 'after')).toBe('after');
    expect(told).toEqual([]);
    expect(await failure(sendBy(caller, 'p.x', new Uint8Array(0), { onReplyMetadata: 'no' as never }))).toMatchObject({ code: ErrorCode.InvalidArgument });
  });
});
