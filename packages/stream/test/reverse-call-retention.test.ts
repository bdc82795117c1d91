import { ErrorCode, RpcError } from '@skein/core';
import { fullGc, waitFor, cleanups } from '@skein/test-utils';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { HelloRole, encodeHello, receiveLimitsEntry } from '../src/wire/hello.js';
import { HELLO_ACTION, REQUEST_HEADER_LENGTH, writeRequestHeader } from '../src/wire/protocol.js';
import { reverseOfferEntry } from '../src/wire/reverse-calls.js';
import { startServer } from './harness.js';

const cleanup = cleanups();

const MiB = 1024 * 1024;

/** External memory (Uint8Arrays' backing stores) after a full collection. */
function buffersAfterGc(): number {
  fullGc();
  fullGc();
  return process.memoryUsage().arrayBuffers;
}

/** A raw peer that offers to serve `window` reverse calls, then reads (and drops) all it gets and never answers. */
async function silentServingPeer(address: string, window: number, reads = true): Promise<() => number> {
  const [host, port] = address.split(':');
  const sock = net.connect(Number(port), host);
  cleanup.push(() => sock.destroy());
  sock.on('error', () => {});
  let received = 0;
  sock.on('data', (c: Buffer) => void (received += c.length));
  await new Promise<void>((r) => sock.once('connect', () => r()));
  // Not reading: what the server sends backs up into its send buffer, and its calls wait.
  if (!reads) sock.pause();
  const offer = encodeHello(HelloRole.Offer, [receiveLimitsEntry(16 * MiB, 64 * MiB), reverseOfferEntry(window)]);
  const frame = new Uint8Array(REQUEST_HEADER_LENGTH + offer.length);
  writeRequestHeader(frame, HELLO_ACTION, 0, 0, offer.length, 0);
  frame.set(offer, REQUEST_HEADER_LENGTH);
  sock.write(frame);
  return () => received;
}

describe('reverse calls to a peer that never answers', () => {
  it('hold none of their payloads once they timed out: only their window slots', async () => {
    const N = 200;
    const BLOB = 256 * 1024;
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const received = await silentServingPeer(s.address, N);
    const conn = await waitFor(() => s.server.openConnections().find((c) => c.caller !== undefined));
    const before = buffersAfterGc();
    const outcomes: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      outcomes.push(new Promise((resolve) => conn.caller!.send('never', new Uint8Array(0), { timeoutMs: 20, blob: new Uint8Array(BLOB) }, (err) => resolve(err))));
      // One at a time, each on the wire before the next: none waits in the line for the send buffer.
      await waitFor(() => received() >= (i + 1) * BLOB, { intervalMs: 1 });
    }
    const errors = await Promise.all(outcomes);
    expect(errors.every((e) => e instanceof RpcError && e.code === ErrorCode.Timeout && e.retry !== 'safe')).toBe(true);
    // 50 MiB were sent; the caller gave up on every call. The slots stay (the peer may still be
    // running them), but what the calls carried is nobody's any more.
    const held = buffersAfterGc() - before;
    expect(held).toBeLessThan(8 * MiB);
  });

  it('hold none of their payloads once they timed out waiting for the send buffer', async () => {
    const N = 200;
    const BLOB = 256 * 1024;
    const s = await startServer({}, { reverseCalls: { maxQueued: N } });
    cleanup.push(() => s.server.close());
    await silentServingPeer(s.address, N, false);
    const conn = await waitFor(() => s.server.openConnections().find((c) => c.caller !== undefined));
    const before = buffersAfterGc();
    const errors = await Promise.all(
      Array.from({ length: N }, () => new Promise<unknown>((resolve) => conn.caller!.send('never', new Uint8Array(0), { timeoutMs: 20, blob: new Uint8Array(BLOB) }, (err) => resolve(err)))),
    );
    const unsent = errors.filter((e) => e instanceof RpcError && e.code === ErrorCode.Timeout && e.retry === 'safe');
    // Most never left: the send buffer stayed full. Their caller gave up on them; so does the server.
    expect(unsent.length).toBeGreaterThan(N / 2);
    const held = buffersAfterGc() - before;
    expect(held).toBeLessThan((N - unsent.length) * BLOB + 8 * MiB);
  });
});
