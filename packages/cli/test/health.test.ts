import { Health, HealthReporter, MAX_HEALTH_SERVICE_NAME, createServiceDispatch, healthService, implement, method, service, type ServiceImpl } from '@skein/api';
import { cborCodec } from '@skein/codec-cbor';
import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger, type Codec } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer } from '@skein/stream';
import { startTcpRelay, testCleanups, tmpSocketPath, waitFor } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { spawn } from 'node:child_process';
import { describe, it } from 'vitest';
import { BIN, skein } from './skein-bin.js';

// Every test has its servers, relays and children to itself, in its own `cleanup` (testCleanups:
// closed when that test ends, last first): the tests run at once (describe.concurrent), much of
// each being a CLI child starting up.
type Cleanup = (() => unknown)[];

/** A real server over TCP with the health service answering from `reporter` (or only `services`); closed by `cleanup`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- services of any definitions, as the dispatch takes them
async function start(cleanup: Cleanup, codec: Codec, services: ServiceImpl<any>[]) {
  const server = new RpcServer({ logger: silentLogger, closeWaitMs: 60_000, dispatch: createServiceDispatch({ codec, logger: silentLogger, streamTimeoutMs: 0, services }) });
  const a = await server.listen(tcpTransport(nodeRuntime), '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { server, addr: `127.0.0.1:${a.port}` };
}

describe.concurrent('skein health: one check, an exit code per answer', () => {
  it('exits 0 serving, 3 not serving, 4 for a service the server holds no status for', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const reporter = new HealthReporter();
    reporter.set('Orders', 'serving');
    reporter.set('Billing', 'not-serving');
    const { addr } = await start(cleanup, msgpackCodec, [healthService(reporter)]);

    // A process each, at once: a check changes nothing on the server.
    const [all, orders, billing, nobody] = await Promise.all([skein('health', addr), skein('health', addr, 'Orders'), skein('health', addr, 'Billing'), skein('health', addr, 'Nobody')]);
    expect(all).toEqual({ code: 0, stdout: 'serving\n', stderr: '' });
    expect(orders).toEqual({ code: 0, stdout: 'serving\n', stderr: '' });
    expect(billing).toEqual({ code: 3, stdout: 'not-serving\n', stderr: '' });
    expect(nobody).toEqual({ code: 4, stdout: 'unknown\n', stderr: '' });
    reporter.set('', 'not-serving');
    expect(await skein('health', addr)).toEqual({ code: 3, stdout: 'not-serving\n', stderr: '' });
  });

  it('speaks the server\'s codec (--codec cbor)', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const { addr } = await start(cleanup, cborCodec, [healthService(new HealthReporter())]);
    expect(await skein('health', addr, '--codec', 'cbor')).toEqual({ code: 0, stdout: 'serving\n', stderr: '' });
  });

  it('exits 1 when the server is unreachable, or has no health service, saying so', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const Echo = service('Echo', { say: method<string, string>() });
    const { addr } = await start(cleanup, msgpackCodec, [implement(Echo, { say: (s) => s })]);
    const [none, bare] = await Promise.all([skein('health', `unix:${tmpSocketPath('skein-health-none')}`, '--timeout', '5000'), skein('health', addr)]);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^error: Unreachable \(rpc_unreachable\): cannot connect/);

    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/^error: Service \(rpc_service_notfound\): .* serves no health service \(skein\.health\.Health\): its dispatch needs healthService\(reporter\)/);
  });

  it('exits 2 for a mistake on the command line, before connecting', async ({ expect }) => {
    const [huge, ...others] = await Promise.all([
      skein('health', '127.0.0.1:1', 'x'.repeat(MAX_HEALTH_SERVICE_NAME + 1)),
      skein('health', '127.0.0.1:1', 'A', 'B'),
      skein('health', '127.0.0.1:1', '--watch=yes'),
      skein('health', '127.0.0.1:1', '--count', '2'),
    ]);
    expect(huge!.code).toBe(2);
    expect(huge!.stderr).toMatch(/SERVICE is 257 characters long, more than the 256/);
    expect(others.map((r) => r.code)).toEqual([2, 2, 2]);
  });
});

/** `skein health ... --watch` in a child process, its output read as it comes; killed by `cleanup`. */
function watchInChild(cleanup: Cleanup, ...args: string[]) {
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

describe.concurrent('skein health --watch', () => {
  it('prints each status as it changes, then the server closing says not-serving, and exits 3', { timeout: 30_000 }, async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const reporter = new HealthReporter();
    reporter.set('Orders', 'serving');
    const { server, addr } = await start(cleanup, msgpackCodec, [healthService(reporter)]);
    const w = watchInChild(cleanup, addr, 'Orders');
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

  it('of an unknown service prints unknown and keeps watching; the status set later follows', { timeout: 30_000 }, async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const reporter = new HealthReporter();
    const { server, addr } = await start(cleanup, msgpackCodec, [healthService(reporter)]);
    const w = watchInChild(cleanup, addr, 'Later');
    await w.printed(1);
    reporter.set('Later', 'serving');
    await w.printed(2);
    await server.close();
    expect(await w.exited).toBe(3);
    expect(w.out.stdout).toBe('unknown\nserving\nnot-serving\n');
  });

  it('exits 1 when the connection is lost mid-watch (a broken link, not a close)', { timeout: 30_000 }, async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const reporter = new HealthReporter();
    const { addr } = await start(cleanup, msgpackCodec, [healthService(reporter)]);
    const relay = await startTcpRelay(addr);
    cleanup.push(() => relay.close());
    const w = watchInChild(cleanup, relay.address);
    await w.printed(1);
    relay.cut();
    expect(await w.exited).toBe(1);
    expect(w.lines()).toEqual(['serving']);
    expect(w.out.stderr).toMatch(/^error: /);
    // It spoke Skein before: no guess at another address form.
    expect(w.out.stderr).not.toContain('no answer came back');
    await waitFor(() => reporter.watchers === 0, { what: 'the server letting the watcher go' });
  });

  it('exits 1 when no first status comes within --timeout (a watch has no deadline after it)', { timeout: 30_000 }, async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    // A health service of its own that never says anything until the client goes away.
    const silent = implement(Health, {
      check: () => ({ status: 'serving' as const }),
      async *watch(_arg, ctx) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      },
    });
    const { addr } = await start(cleanup, msgpackCodec, [silent]);
    const r = await skein('health', addr, '--watch', '--timeout', '300');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: Timeout \(rpc_timeout\): skein\.health\.Health\.watch: no status within 300 ms \(--timeout 300 ms, counted from connecting\)/);
  });

  it('exits 1 when the link goes silent mid-watch: its keepalive gives the server up', { timeout: 30_000 }, async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const reporter = new HealthReporter();
    const { addr } = await start(cleanup, msgpackCodec, [healthService(reporter)]);
    const relay = await startTcpRelay(addr);
    cleanup.push(() => relay.close());
    const w = watchInChild(cleanup, relay.address, '--timeout', '500');
    await w.printed(1);
    relay.stall(); // bytes dropped both ways, nothing closed: only a ping unanswered can tell
    expect(await w.exited).toBe(1);
    expect(w.lines()).toEqual(['serving']);
    expect(w.out.stderr).toMatch(/^error: /);
  });
});
