import { fork } from 'node:child_process';
import { ErrorCode, RpcError } from '@skein/core';
import { processRunning, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { handoverRuntime } from '../src/index.js';

// The handover that works (a flood through a restart, no failed call) is tested with RpcServer
// in packages/stream/test/graceful-restart.test.ts; here, the ways it fails.
describe('handoverRuntime', () => {
  async function refused(script: string, timeoutMs?: number): Promise<RpcError> {
    const runtime = handoverRuntime();
    const listener = await runtime.listen({ host: '127.0.0.1', port: 0 }, (conn) => conn.close());
    try {
      await runtime.handOver(process.execPath, ['-e', script], { timeoutMs, spawn: { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] } });
      throw new Error('handOver resolved');
    } catch (err) {
      return err as RpcError;
    } finally {
      await listener.close();
    }
  }

  it('rejects with Unreachable when the successor exits before it listens', async () => {
    const err = await refused('process.exit(3)');
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.Unreachable);
    expect(err.message).toMatch(/^handing the listening sockets to process \d+ failed: it exited \(3\) before it listened$/);
  });

  it('a successor whose predecessor dies before it sent the sockets binds by itself', async () => {
    // The successor's side, with no sockets ever sent: its predecessor's channel just closes.
    const child = fork(new URL('./fixtures/successor.mjs', import.meta.url), [], { env: { ...process.env, SKEIN_HANDOVER: '1' }, execArgv: [], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve) => child.once('message', () => resolve()));
      child.disconnect();
      await waitFor(() => out.includes('listening'), { what: 'the successor to listen' });
      expect(out).toMatch(/^listening \d+\n$/);
      await exited;
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('kills a successor that does not listen in time, and says on which address', async () => {
    // Takes the sockets but never listens on them.
    const err = await refused("process.on('message', () => {}); process.send({ type: 'skein:handover:ready' }); setInterval(() => {}, 1000)", 300);
    expect(err.code).toBe(ErrorCode.Unreachable);
    expect(err.message).toMatch(/it did not listen on 127\.0\.0\.1:\d+ within 300 ms$/);
    const pid = Number(/process (\d+)/.exec(err.message)![1]);
    await waitFor(() => !processRunning(pid), { what: 'the successor to be killed' });
  });
  it('an option given as undefined is one left out: the IPC channel and the timeout stay', async () => {
    // \`spawn: { stdio: cfg.stdio }\` with nothing configured, as exactOptionalPropertyTypes lets
    // a caller write: spread over the default stdio, it took the IPC channel away, and the
    // successor died on its first process.send.
    const runtime = handoverRuntime();
    const listener = await runtime.listen({ host: '127.0.0.1', port: 0 }, (conn) => conn.close());
    const takesSockets =
      "process.on('message', (m, server) => { if (m.type !== 'skein:handover:socket') return; server.close(); process.send({ type: 'skein:handover:taken', address: m.address }); });" +
      "process.send({ type: 'skein:handover:ready' })";
    try {
      const child = await runtime.handOver(process.execPath, ['-e', takesSockets], { timeoutMs: undefined, spawn: { stdio: undefined, env: undefined } });
      // Handed over and let go: it exits once the channel is closed.
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
      expect(child.exitCode).toBe(0);
    } finally {
      await listener.close();
    }
  });
});
