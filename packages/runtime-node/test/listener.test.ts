import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, type ByteListener } from '@skein/core';
import { handleCounts, leakedHandles, startProcess, tmpSocketPath, cleanups } from '@skein/test-utils';
import { nodeRuntime } from '../src/index.js';
import { bytes, connectPair, expectServes, listenQueue } from './recorder.js';

const cleanup = cleanups();

const tcpAddress = (l: ByteListener): { host: string; port: number } => l.address as { host: string; port: number };

describe('listen', () => {
  it('stops accepting at close() without waiting for, or touching, accepted connections', async () => {
    const q = await listenQueue({ host: '127.0.0.1', port: 0 });
    const address = tcpAddress(q.listener);
    const { client, server, closeBoth } = await connectPair(q);
    await q.listener.close();
    const refused = await nodeRuntime.connect(address).catch((e: unknown) => e);
    expect(RpcError.is(refused, ErrorCode.Unreachable)).toBe(true);
    client.conn.write([bytes('still here')]);
    await server.receives('still here');
    closeBoth();
  });

  it('leaves no handles once its connections and itself are closed', async () => {
    const before = handleCounts();
    const q = await listenQueue({ host: '127.0.0.1', port: 0 });
    const { client, server, closeBoth } = await connectPair(q);
    closeBoth();
    await Promise.all([client.closed, server.closed]);
    await q.listener.close();
    expect(leakedHandles(before)).toEqual({});
  });

  it('rejects a TCP port in use with an error naming the address', async () => {
    const q = await listenQueue({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => q.listener.close());
    const address = tcpAddress(q.listener);
    const err = await nodeRuntime.listen(address, () => {}).catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.IO)).toBe(true);
    expect((err as Error).message).toMatch(`cannot listen on 127.0.0.1:${address.port}: `);
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
  });

  it('removes its Unix socket file on close', async () => {
    const path = tmpSocketPath();
    const q = await listenQueue({ path });
    expect(q.listener.address).toEqual({ path });
    expect(existsSync(path)).toBe(true);
    await q.listener.close();
    expect(existsSync(path)).toBe(false);
  });

  it('replaces a socket file left by a dead server', async () => {
    const path = tmpSocketPath();
    await leaveStaleSocket(path);
    expect(existsSync(path)).toBe(true);
    const q = await listenQueue({ path });
    cleanup.push(() => q.listener.close());
    await expectServes(q);
  });

  it('refuses a Unix path a live server listens on, and leaves that server working', async () => {
    const path = tmpSocketPath();
    const live = await listenQueue({ path });
    cleanup.push(() => live.listener.close());
    const err = await nodeRuntime.listen({ path }, () => {}).catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.IO)).toBe(true);
    expect((err as Error).message).toBe(`cannot listen on unix:${path}: a live server is listening there`);
    // The first connection the live server saw is the probe that found it alive.
    (await live.next()).close();
    await expectServes(live);
  });

  it('refuses a Unix path taken by a file that is not a socket, and keeps the file', async () => {
    const path = tmpSocketPath();
    writeFileSync(path, 'precious');
    cleanup.push(() => rmSync(path, { force: true }));
    const err = await nodeRuntime.listen({ path }, () => {}).catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.IO)).toBe(true);
    expect((err as Error).message).toBe(`cannot listen on unix:${path}: a file that is not a socket is in the way`);
    expect(existsSync(path)).toBe(true);
  });
});

/** A Unix socket file whose server was killed, so nothing accepts on it any more. */
async function leaveStaleSocket(path: string): Promise<void> {
  const script = `require('node:net').createServer().listen(process.argv[1], () => console.log('listening'))`;
  const proc = startProcess(process.execPath, ['-e', script, path]);
  await proc.waitForLine(/^listening$/);
  proc.kill('SIGKILL');
  await proc.exited;
}
