import { Health, HealthReporter, MAX_HEALTH_SERVICE_NAME, createServiceDispatch, healthService, implement, method, service, type ServiceImpl } from '@skein/api';
import { cborCodec } from '@skein/codec-cbor';
import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger, type Codec } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer } from '@skein/stream';
import { cleanups, startTcpRelay, tmpSocketPath, waitFor } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, skein } from './skein-bin.js';

const cleanup = cleanups();

/** A real server over TCP with the health service answering from `reporter` (or only `services`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- services of any definitions, as the dispatch takes them
async function start(codec: Codec, services: ServiceImpl<any>[]) {
  const server = new RpcServer({ logger: silentLogger, closeWaitMs: 60_000, dispatch: createServiceDispatch({ codec, logger: silentLogger, streamTimeoutMs: 0, services }) });
  const a = await server.listen(tcpTransport(nodeRuntime), '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { server, addr: `127.0.0.1:${a.port}` };
}

describe('skein health: one check, an exit code per answer', () => {
  it('exits 0 serving, 3 not serving, 4 for a service the server holds no status for', async () => {
    const reporter = new HealthReporter();
    reporter.set('Orders', 'serving');
    reporter.set('Billing', 'not-serving');
    const { addr } = await start(msgpackCodec, [healthService(reporter)]);

    expect(await skein('health', addr)).toEqual({ code: 0, stdout: 'serving\n', stderr: '' });
    expect(await skein('health', addr, 'Orders')).toEqual({ code: 0, stdout: 'serving\n', stderr: '' });
    expect(await skein('health', addr, 'Billing')).toEqual({ code: 3, stdout: 'not-serving\n', stderr: '' });
    expect(await skein('health', addr, 'Nobody')).toEqual({ code: 4, stdout: 'unknown\n', stderr: '' });
    reporter.set('', 'not-serving');
    expect(await skein('health', addr)).toEqual({ code: 3, stdout: 'not-serving\n', stderr: '' });
  });

  it('speaks the server\'s codec (--codec cbor)', async () => {
    const { addr } = await start(cborCodec, [healthService(new HealthReporter())]);
    expect(await skein('health', addr, '--codec', 'cbor')).toEqual({ code: 0, stdout: 'serving\n', stderr: '' });
  });

  it('exits 1 when the server is unreachable, or has no health service, saying so', async () => {
    const none = await skein('health', `unix:${tmpSocketPath('skein-health-none')}`, '--timeout', '5000');
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^error: Unreachable \(rpc_unreachable\): cannot connect/);

    const Echo = service('Echo', { say: method<string, string>() });
    const { addr } = await start(msgpackCodec, [implement(Echo, { say: (s) => s })]);
    const bare = await skein('health', addr);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/^error: Service \(rpc_service_notfound\): .* serves no health service \(skein\.health\.Health\): its dispatch needs healthService\(reporter\)/);
  });

  it('exits 2 for a mistake on the command line, before connecting', async () => {
    const huge = await skein('health', '127.0.0.1:1', 'x'.repeat(MAX_HEALTH_SERVICE_NAME + 1));
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/SERVICE is 257 characters long, more than the 256/);
    expect((await skein('health', '127.0.0.1:1', 'A', 'B')).code).toBe(2);
    expect((await skein('health', '127.0.0.1:1', '--watch=yes')).code).toBe(2);
    expect((await skein('health', '127.0.0.1:1', '--count', '2')).code).toBe(2);
  });
});

/** `skein health ... --watch` in a child process, its output read as it comes. */
function watchInChild(...args: string[]) {
  const child = spawn(process.execPath, [BIN, 'health', ...args, '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.push(() => child.kill());
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = (): string[] => out.stdout.split('\n').filter((l) => l !== '');
  const printed = (n: number): Promise<boolean> => waitFor(() => lines().length >= n, { what: `${n} statuses printed` });
  return { out, exited, lines, printed };
}

describe('skein health --watch', () => {
  it('prints each status as it changes, then the server closing says not-serving, and exits 3', { timeout: 30_000 }, async () => {
    const reporter = new HealthReporter();
    reporter.set('Orders', 'serving');
    const { server, addr } = await start(msgpackCodec, [healthService(reporter)]);
    const w = watchInChild(addr, 'Orders');
    await w.printed(1);
    reporter.set('Orders', 'not-serving');
    await w.printed(2);
    reporter.set('Orders', 'serving');
    await w.printed(3);
    expect(w.lines()).toEqual(['serving', 'not-serving', 'serving']);

    await server.close();
    expect(await w.exited).toBe(3);
    expect(w.lines()).toEqual(['serving', 'not-serving', 'serving', 'not-serving']);
    expect(w.out.stderr).toBe('');
  });

  it('of an unknown service prints unknown and keeps watching; the status set later follows', { timeout: 30_000 }, async () => {
    const reporter = new HealthReporter();
    const { server, addr } = await start(msgpackCodec, [healthService(reporter)]);
    const w = watchInChild(addr, 'Later');
    await w.printed(1);
    reporter.set('Later', 'serving');
    await w.printed(2);
    await server.close();
    expect(await w.exited).toBe(3);
    expect(w.out.stdout).toBe('unknown\nserving\nnot-serving\n');
  });

  it('exits 1 when the connection is lost mid-watch (a broken link, not a close)', { timeout: 30_000 }, async () => {
    const reporter = new HealthReporter();
    const { addr } = await start(msgpackCodec, [healthService(reporter)]);
    const relay = await startTcpRelay(addr);
    cleanup.push(() => relay.close());
    const w = watchInChild(relay.address);
    await w.printed(1);
    relay.cut();
    expect(await w.exited).toBe(1);
    expect(w.lines()).toEqual(['serving']);
    expect(w.out.stderr).toMatch(/^error: /);
    // It spoke Skein before: no guess at another address form.
    expect(w.out.stderr).not.toContain('no answer came back');
    await waitFor(() => reporter.watchers === 0, { what: 'the server letting the watcher go' });
  });

  it('exits 1 when no first status comes within --timeout (a watch has no deadline after it)', { timeout: 30_000 }, async () => {
    // A health service of its own that never says anything until the client goes away.
    const silent = implement(Health, {
      check: () => ({ status: 'serving' as const }),
      async *watch(_arg, ctx) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      },
    });
    const { addr } = await start(msgpackCodec, [silent]);
    const r = await skein('health', addr, '--watch', '--timeout', '300');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: Timeout \(rpc_timeout\): skein\.health\.Health\.watch: no status within 300 ms \(--timeout 300 ms, counted from connecting\)/);
  });

  it('exits 1 when the link goes silent mid-watch: its keepalive gives the server up', { timeout: 30_000 }, async () => {
    const reporter = new HealthReporter();
    const { addr } = await start(msgpackCodec, [healthService(reporter)]);
    const relay = await startTcpRelay(addr);
    cleanup.push(() => relay.close());
    const w = watchInChild(relay.address, '--timeout', '500');
    await w.printed(1);
    relay.stall(); // bytes dropped both ways, nothing closed: only a ping unanswered can tell
    expect(await w.exited).toBe(1);
    expect(w.lines()).toEqual(['serving']);
    expect(w.out.stderr).toMatch(/^error: /);
  });
});
