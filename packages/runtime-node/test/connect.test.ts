import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, type ByteConn, type ByteListener } from '@skein/core';
import { freePort, handleCounts, leakedHandles, startProcess, tmpSocketPath, waitFor, type Proc, cleanups } from '@skein/test-utils';
import { nodeRuntime } from '../src/index.js';
import { bytes, connectPair, listenQueue, settle } from './recorder.js';

const cleanup = cleanups();
const closeAfter = (l: ByteListener): void => void cleanup.push(() => l.close());

describe('connect', () => {
  it('carries bytes both ways over TCP, with the real port and ip:port remotes', async () => {
    const q = await listenQueue({ host: '127.0.0.1', port: 0 });
    closeAfter(q.listener);
    const address = q.listener.address as { host: string; port: number };
    expect(address.port).toBeGreaterThan(0);
    const { client, server, closeBoth } = await connectPair(q);
    expect(client.conn.remote).toBe(`127.0.0.1:${address.port}`);
    expect(server.conn.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    client.conn.write([bytes('ping')]);
    await server.receives('ping');
    server.conn.write([bytes('po'), bytes('n'), bytes('g')]);
    await client.receives('pong');
    closeBoth();
  });

  it('carries bytes over a Unix socket, shown as unix:path', async () => {
    const path = tmpSocketPath();
    const q = await listenQueue({ path });
    closeAfter(q.listener);
    const { client, server, closeBoth } = await connectPair(q);
    expect(client.conn.remote).toBe(`unix:${path}`);
    expect(server.conn.remote).toBe(`unix:${path}`);
    client.conn.write([bytes('over '), bytes('unix')]);
    await server.receives('over unix');
    closeBoth();
  });

  it('rejects a refused connection with Unreachable naming the address and the cause', async () => {
    const port = await freePort();
    const err = await nodeRuntime.connect({ host: '127.0.0.1', port }).catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.Unreachable)).toBe(true);
    expect((err as RpcError).message).toContain(`127.0.0.1:${port}`);
    expect((err as RpcError).message).toContain('ECONNREFUSED');
    expect((err as RpcError).neverExecuted).toBe(true);
  });

  it('rejects a missing Unix socket with Unreachable', async () => {
    const path = tmpSocketPath();
    const err = await nodeRuntime.connect({ path }).catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.Unreachable)).toBe(true);
    expect((err as RpcError).message).toContain(`unix:${path}`);
  });

  it('takes an infinite timeout as the longest timer, not as an overflow that fires at once', async () => {
    const q = await listenQueue({ host: '127.0.0.1', port: 0 });
    closeAfter(q.listener);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    cleanup.push(() => process.off('warning', onWarning));
    const conn = await nodeRuntime.connect(q.listener.address, { timeoutMs: Number.POSITIVE_INFINITY });
    conn.close();
    await settle();
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });

  it('times out against a server whose accept queue is full, and leaves no socket behind', async () => {
    const { port, proc } = await stalledServer();
    cleanup.push(() => proc.kill('SIGKILL'));
    const before = handleCounts();
    const address = { host: '127.0.0.1', port };
    const opened: ByteConn[] = [];
    let failure: unknown;
    // The kernel queues backlog + 1 connections nobody accepts, then drops further SYNs, so
    // one of the first few attempts can never connect, however long it waits.
    for (let i = 0; i < 8 && failure === undefined; i++) {
      await nodeRuntime.connect(address, { timeoutMs: 1000 }).then((c) => opened.push(c), (e: unknown) => (failure = e));
    }
    expect(opened.length).toBeGreaterThan(0);
    expect(RpcError.is(failure, ErrorCode.Unreachable)).toBe(true);
    expect((failure as RpcError).message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}: no connection within 1000 ms`));
    for (const c of opened) c.close();
    await waitFor(() => Object.keys(leakedHandles(before)).length === 0, { what: 'sockets to be released' });
  });
});

/** A server in a child process whose event loop is blocked, so it never accepts. */
async function stalledServer(): Promise<{ port: number; proc: Proc }> {
  const script = `
    const server = require('node:net').createServer();
    server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
      console.log('port ' + server.address().port);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    });`;
  const proc = startProcess(process.execPath, ['-e', script]);
  const [, port] = await proc.waitForLine(/^port (\d+)$/);
  return { port: Number(port), proc };
}
