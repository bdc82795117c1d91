import { ErrorCode, RpcError } from '@skein/core';
import { fullGc, waitFor, cleanups } from '@skein/test-utils';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientStream, ConnPool } from '../src/index.js';
import { startServer, transport } from './harness.js';

const cleanup = cleanups();

const MiB = 1024 * 1024;
const N = 40;

/** External memory (Uint8Arrays' backing stores) after a full collection. */
function buffersAfterGc(): number {
  fullGc();
  fullGc();
  return process.memoryUsage().arrayBuffers;
}

/** Sends a call with a fresh 1 MiB blob nobody else keeps; resolves with its error (or null). */
const sendBlob = (c: Pick<ClientStream, 'send'>, opts: { timeoutMs?: number; signal?: AbortSignal }) =>
  new Promise<unknown>((resolve) => c.send('hold', new Uint8Array(0), { ...opts, blob: new Uint8Array(MiB) }, (err) => resolve(err)));

/** A stream whose window of 1 a call the server never answers holds: what comes next waits in its line. */
async function stalledStream(): Promise<ClientStream> {
  const s = await startServer({ stuck: () => new Promise(() => {}), hold: () => new Promise(() => {}) });
  cleanup.push(() => s.server.close());
  const stream = await s.connect({ window: 1, maxQueued: 10 * N, keepaliveMs: 0 });
  cleanup.push(() => stream.destroy());
  await stream.ping();
  void stream.call('stuck').catch(() => {});
  await waitFor(() => stream.inFlight === 1);
  return stream;
}

describe('calls that leave a waiting line before their turn', () => {
  it('ClientStream: a call that timed out waiting for the window lets go of its payload at once', async () => {
    const stream = await stalledStream();
    const before = buffersAfterGc();
    const errors = await Promise.all(Array.from({ length: N }, () => sendBlob(stream, { timeoutMs: 20 })));
    expect(errors.every((e) => e instanceof RpcError && e.code === ErrorCode.Timeout && e.retry === 'safe')).toBe(true);
    expect(stream.queued).toBe(0);
    // 40 MiB went into the line, and the window never freed: nothing may keep them now.
    expect(buffersAfterGc() - before).toBeLessThan(8 * MiB);
  });

  it('ClientStream: a call cancelled while waiting for the window lets go of its payload at once', async () => {
    const stream = await stalledStream();
    const before = buffersAfterGc();
    const ac = new AbortController();
    const outcomes = Array.from({ length: N }, () => sendBlob(stream, { signal: ac.signal }));
    await waitFor(() => stream.queued === N);
    ac.abort();
    const errors = await Promise.all(outcomes);
    expect(errors.every((e) => e instanceof RpcError && e.code === ErrorCode.Cancelled)).toBe(true);
    expect(buffersAfterGc() - before).toBeLessThan(8 * MiB);
  });

  /** A TCP server that accepts connections, reads them and never writes a byte: no hello's answer, no pong. */
  async function muteServer(): Promise<string> {
    const sockets: net.Socket[] = [];
    const mute = net.createServer((sock) => void sockets.push(sock.on('error', () => {})));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => mute.close(r)));
    cleanup.push(() => sockets.forEach((s) => s.destroy()));
    return `127.0.0.1:${(mute.address() as net.AddressInfo).port}`;
  }

  it('ClientStream: a call held for the hello\'s answer lets go of its payload once it timed out or was cancelled', async () => {
    const stream = await ClientStream.connect({ transport, address: await muteServer(), keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    const before = buffersAfterGc();
    const ac = new AbortController();
    // A deadline or a signal gives a call a head: it waits for the hello's answer, which never comes.
    const timedOut = Array.from({ length: N / 2 }, () => sendBlob(stream, { timeoutMs: 20 }));
    const cancelled = Array.from({ length: N / 2 }, () => sendBlob(stream, { signal: ac.signal }));
    await Promise.all(timedOut);
    ac.abort();
    const errors = await Promise.all([...timedOut, ...cancelled]);
    expect(errors.map((e) => (e as RpcError).code)).toEqual([...Array(N / 2).fill(ErrorCode.Timeout), ...Array(N / 2).fill(ErrorCode.Cancelled)]);
    expect(stream.inFlight).toBe(0);
    expect(buffersAfterGc() - before).toBeLessThan(8 * MiB);
  });

  /** A pool whose only connection never answers its first ping: calls wait in the pool for it. */
  async function stalledPool(): Promise<ConnPool> {
    const pool = new ConnPool({ transport, address: await muteServer(), maxConnections: 1, maxQueued: 10 * N, stream: { keepaliveMs: 0 } });
    cleanup.push(() => pool.destroy());
    return pool;
  }

  it('ConnPool: a call cancelled while waiting for a connection lets go of its payload at once', async () => {
    const pool = await stalledPool();
    const before = buffersAfterGc();
    const ac = new AbortController();
    const outcomes = Array.from({ length: N }, () => sendBlob(pool, { signal: ac.signal, timeoutMs: 60_000 }));
    await waitFor(() => pool.queued === N);
    ac.abort();
    const errors = await Promise.all(outcomes);
    expect(errors.every((e) => e instanceof RpcError && e.code === ErrorCode.Cancelled)).toBe(true);
    expect(pool.queued).toBe(0);
    expect(buffersAfterGc() - before).toBeLessThan(8 * MiB);
  });

  it('ConnPool: a stream cancelled while waiting for a connection lets go of its opening at once', async () => {
    const pool = await stalledPool();
    const before = buffersAfterGc();
    const ac = new AbortController();
    const ended = Array.from({ length: N }, () => {
      const stream = pool.openStream('hold', new Uint8Array(MiB), { signal: ac.signal, timeoutMs: 60_000 });
      return stream.result.then(() => null, (err: unknown) => err);
    });
    await waitFor(() => pool.queued === N);
    ac.abort();
    expect((await Promise.all(ended)).every((e) => e instanceof RpcError && e.code === ErrorCode.Cancelled)).toBe(true);
    expect(buffersAfterGc() - before).toBeLessThan(8 * MiB);
  });

  it('ConnPool: a call that timed out waiting for a connection lets go of its payload at once', async () => {
    const pool = await stalledPool();
    const before = buffersAfterGc();
    const errors = await Promise.all(Array.from({ length: N }, () => sendBlob(pool, { timeoutMs: 30 })));
    expect(errors.every((e) => e instanceof RpcError && e.code === ErrorCode.Timeout && e.retry === 'safe')).toBe(true);
    expect(buffersAfterGc() - before).toBeLessThan(8 * MiB);
  });
});
