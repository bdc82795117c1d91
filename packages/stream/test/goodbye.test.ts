import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, startTcpRelay, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, FailoverPool } from '../src/index.js';
import { golden } from './golden.js';
import { rawPeer, readU32, startServer, transport, u32 } from './harness.js';

const cleanup = cleanups();

/*
 * A server that closes ends each connection once nothing it read there runs; a call its client
 * sent meanwhile, still on its way, was cut off with it and failed "may have run" (a pool could
 * not send it elsewhere), though the server never read it. Found as a rolling restart's rare
 * failure (rolling-restart.test.ts in discovery-etcd: a non-idempotent call "lost: closed by peer
 * ... not retried"). The server's goodbye, its last frame (docs/protocol.md, "Goodbye"), says
 * such calls never ran. Here a relay holds the client's call on its way while the server closes.
 */
async function serverBehindRelay(runs: { n: number }, answer: number) {
  const s = await startServer({ once: () => (runs.n++, u32(answer)) }, { tickMs: 50 });
  const relay = await startTcpRelay(s.address);
  cleanup.push(() => relay.close());
  return { ...s, relay };
}

describe("a draining server's goodbye", () => {
  it('a call still on its way when the closing server ends the connection fails Closed, never ran (retry safe), not IO "may have run"', async () => {
    const runs = { n: 0 };
    const a = await serverBehindRelay(runs, 1);
    const client = await ClientStream.connect({ transport, address: a.relay.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    expect(readU32((await client.call('once')).msg)).toBe(1);
    a.relay.holdClients();
    const onItsWay = client.call('once').then(
      () => undefined,
      (e: unknown) => e,
    );
    const closed = a.server.close();
    const err = (await onItsWay) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect({ code: err.code, retry: err.retry }).toEqual({ code: ErrorCode.Closed, retry: 'safe' });
    expect(err.message).toMatch(/said goodbye and ended the connection before it read the call \(never ran\)/);
    await a.relay.close();
    await closed;
    expect(runs.n).toBe(1);
  });

  it('so does a stream opened on its way: Closed, never ran (retry safe), not IO "lost mid-stream"', async () => {
    const a = await serverBehindRelay({ n: 0 }, 1);
    const client = await ClientStream.connect({ transport, address: a.relay.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    await client.call('once');
    a.relay.holdClients();
    const stream = client.openStream('once');
    const ended = stream.result.then(
      () => undefined,
      (e: unknown) => e as RpcError,
    );
    const closed = a.server.close();
    const err = await ended;
    expect({ code: err?.code, retry: err?.retry }).toEqual({ code: ErrorCode.Closed, retry: 'safe' });
    expect(err?.message).toMatch(/before it read the stream/);
    await a.relay.close();
    await closed;
  });

  it('a FailoverPool sends such a call (not idempotent) on to another server, where it runs once', async () => {
    const runsA = { n: 0 };
    const runsB = { n: 0 };
    const a = await serverBehindRelay(runsA, 1);
    const b = await startServer({ once: () => (runsB.n++, u32(2)) });
    cleanup.push(() => b.server.close());
    const pool = new FailoverPool({ transport, servers: [a.relay.address, b.address], strategy: 'leader', pool: { stream: { keepaliveMs: 0 } } });
    cleanup.push(() => pool.close());
    expect(readU32((await pool.call('once')).msg)).toBe(1);
    a.relay.holdClients();
    const moved = pool.call('once');
    const closed = a.server.close();
    expect(readU32((await moved).msg)).toBe(2);
    await a.relay.close();
    await closed;
    expect({ a: runsA.n, b: runsB.n }).toEqual({ a: 1, b: 1 });
  });

  it('on the wire: the last frame before the end, to a client that offered kind 25 (none to one that did not, an older Skein client)', async () => {
    for (const [hello, says] of [
      [golden.helloRequestFull, true],
      [golden.helloRequestNoPings, false],
    ] as const) {
      const s = await startServer({}, { tickMs: 50 });
      const peer = rawPeer(s.address, cleanup);
      peer.send(hello);
      // The hello's answer read: the connection took its terms.
      await waitFor(() => peer.receivedBytes() > 0, { what: "the hello's answer" });
      await s.server.close();
      const bytes = await peer.closed;
      if (says) expect(bytes.subarray(0, golden.helloAnswerFull.length)).toEqual(Buffer.from(golden.helloAnswerFull));
      if (says) expect(bytes.subarray(bytes.length - golden.goodbye.length)).toEqual(Buffer.from(golden.goodbye));
      else expect(bytes.includes(Buffer.from(golden.goodbye))).toBe(false);
    }
  });
});
