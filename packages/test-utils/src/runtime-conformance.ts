import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { freePort, tmpSocketPath } from './ports.js';
import { startProcess, type Proc } from './process.js';
import { launch } from './launch.js';
import { describeNeeding, itNeeding } from './needs-tool.js';
import { SEED, pattern } from './runtime-scenarios.js';
import { within } from './wait.js';

/** The one fixture every runtime package's test runs: `runtime-scenario.mjs <module> <runtime> <scenario> <address> [args]` (JavaScript, so Node runs it too). */
export const RUNTIME_SCENARIO = fileURLToPath(new URL('../fixtures/runtime-scenario.mjs', import.meta.url));

/** How a runtime package's test starts RUNTIME_SCENARIO under its runtime. */
export interface RuntimeHarness {
  /** The name the fixture loads the runtime by: `bun` for `@skein/runtime-bun`. */
  readonly runtime: string;
  /** Starts the fixture with these arguments, after the runtime's name. */
  start(args: string[]): Proc;
}

/**
 * The Runtime contract, checked end to end: a child process runs a scenario on the runtime under
 * test, over real sockets on loopback, and this Node process is the peer (node:net).
 */
export function runtimeConformance(h: RuntimeHarness): void {
  const run = (...args: string[]): Proc => killedAfterTest(h.start([h.runtime, ...args]));
  const listening = async (child: Proc): Promise<string> => (await child.waitForLine(/^listening (\S+)/))[1]!;
  const exitCode = (child: Proc): Promise<number | string> => within(child.exited, 20_000, 'child exit');

  describeNeeding([h.runtime], `${h.runtime} runtime: listen`, () => {
    for (const kind of ['tcp', 'unix'] as const) {
      it(`echoes 1 MiB sent in many small writes, byte for byte (${kind})`, async () => {
        const child = run('echo-server', kind === 'tcp' ? '127.0.0.1:0' : `unix:${tmpSocketPath('echo')}`);
        const sock = nodeConnect(await listening(child));
        const data = Buffer.from(pattern(1 << 20, 7));
        const echoed = readAll(sock);
        for (let off = 0, i = 0; off < data.length; i++) {
          const n = 1 + ((i * 7919) % 4096);
          sock.write(data.subarray(off, off + n));
          off += n;
        }
        sock.end();
        expect((await echoed).equals(data)).toBe(true);
        const [, bytes, , , err] = await child.waitForLine(/^conn-closed bytes=(\d+) congested=(\d+) drains=(\d+) err=(.*)$/);
        expect([Number(bytes), err]).toEqual([data.length, 'none']);
        expect(await exitCode(child)).toBe(0);
      });
    }

    it('drops a write after end() or close() and returns true (no drain will come), as on Node', async () => {
      const server = net.createServer({ allowHalfOpen: true }, (s) => s.resume().on('end', () => s.end()));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      onTestFinished(() => void server.close());
      const child = run('write-after-end', `127.0.0.1:${(server.address() as net.AddressInfo).port}`);
      expect((await child.waitForLine(/^after-end=(\w+)$/))[1]).toBe('true');
      expect((await child.waitForLine(/^after-close=(\w+)$/))[1]).toBe('true');
    });

    it('echoes 32 MiB to a reader that stalls until the echo is congested (partial writes, drain)', async () => {
      const child = run('echo-server', '127.0.0.1:0');
      const sock = nodeConnect(await listening(child));
      sock.pause();
      const data = Buffer.from(pattern(32 << 20, 8));
      for (let off = 0; off < data.length; off += 256 * 1024) sock.write(data.subarray(off, off + 256 * 1024));
      sock.end();
      // No reading here until the server has seen write() return false: far more than the kernel
      // buffers hold is on its way, so it must.
      await child.waitForLine(/^congested$/);
      const echoed = readAll(sock);
      sock.resume();
      expect((await echoed).equals(data)).toBe(true);
      const [, bytes, congested, drains] = await child.waitForLine(/^conn-closed bytes=(\d+) congested=(\d+) drains=(\d+)/);
      expect(Number(bytes)).toBe(data.length);
      expect(Number(congested)).toBeGreaterThan(0);
      expect(Number(drains)).toBe(Number(congested));
      expect(await exitCode(child)).toBe(0);
    });

    it('delivers nothing while paused, then everything in order after resume', async () => {
      const child = run('paused-server', '127.0.0.1:0');
      const address = await listening(child);
      const sock = nodeConnect(address);
      await child.waitForLine(/^paused$/);
      const data = pattern(48 * 1024, SEED.paused);
      // Small enough for the kernel buffers: the write completes although nobody reads.
      await new Promise<void>((resolve, reject) => sock.write(data, (err) => (err ? reject(err) : resolve())));
      const control = nodeConnect(address);
      control.write('go');
      expect((await child.waitForLine(/^before-resume=(\d+)$/))[1]).toBe('0');
      sock.end();
      control.end();
      const [, bytes, intact, err] = await child.waitForLine(/^data-closed bytes=(\d+) intact=(\w+) err=(.*)$/);
      expect([Number(bytes), intact, err]).toEqual([data.length, 'true', 'none']);
      expect(await exitCode(child)).toBe(0);
    });

    it('closing the listener removes the socket file, leaves accepted connections, and lets the process exit with a ticker running', async () => {
      const path = tmpSocketPath('life');
      const child = run('listener-lifecycle', `unix:${path}`);
      await listening(child);
      expect(existsSync(path)).toBe(true);
      const sock = nodeConnect(`unix:${path}`);
      const reply = readAll(sock);
      sock.write('close-listener');
      await child.waitForLine(/^listener-closed$/);
      expect(existsSync(path)).toBe(false);
      expect((await reply).toString()).toBe('still-open');
      sock.end();
      expect((await child.waitForLine(/^conn-closed err=(.*) ticked=(\w+)$/)).slice(1)).toEqual(['none', 'true']);
      expect(await exitCode(child)).toBe(0);
    });

    it('closing a TCP listener refuses new connections but keeps the accepted one', async () => {
      const child = run('listener-lifecycle', '127.0.0.1:0');
      const address = await listening(child);
      const sock = nodeConnect(address);
      const reply = readAll(sock);
      sock.write('close-listener');
      await child.waitForLine(/^listener-closed$/);
      await expect(connectError(address)).resolves.toBe('ECONNREFUSED');
      expect((await reply).toString()).toBe('still-open');
      sock.end();
      expect(await exitCode(child)).toBe(0);
    });

    it('replaces a stale socket file', async () => {
      const path = tmpSocketPath('stale');
      // A server that exits without closing leaves its socket file behind.
      const dead = startProcess(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
      expect(await exitCode(dead)).toBe(0);
      expect(existsSync(path)).toBe(true);
      const child = run('listen-once', `unix:${path}`);
      await child.waitForLine(/^closed$/);
      expect(await exitCode(child)).toBe(0);
      expect(existsSync(path)).toBe(false);
    });

    it('leaves a live socket file alone: listen fails and the server there still answers', async () => {
      const path = tmpSocketPath('live');
      const server = net.createServer((s) => {
        s.on('error', () => {}); // the listen-once probe hangs up at once
        s.end('alive');
      });
      await new Promise<void>((resolve) => server.listen(path, resolve));
      try {
        const child = run('listen-once', `unix:${path}`);
        const [, message] = await child.waitForLine(/^listen-error name=RpcError code=1 message=(.*)$/);
        expect(message).toBe(`cannot listen on unix:${path}: a live server is listening there`);
        expect(await exitCode(child)).toBe(0);
        const sock = nodeConnect(`unix:${path}`);
        expect((await readAll(sock)).toString()).toBe('alive');
        sock.end();
      } finally {
        server.close();
      }
    });
    it('leaves a file that is not a socket alone: listen fails saying so', async () => {
      const path = tmpSocketPath('file');
      writeFileSync(path, 'precious');
      onTestFinished(() => rmSync(path, { force: true }));
      const child = run('listen-once', `unix:${path}`);
      const [, message] = await child.waitForLine(/^listen-error name=RpcError code=1 message=(.*)$/);
      expect(message).toBe(`cannot listen on unix:${path}: a file that is not a socket is in the way`);
      expect(await exitCode(child)).toBe(0);
      expect(readFileSync(path, 'utf8')).toBe('precious');
    });
  });

  describeNeeding([h.runtime], `${h.runtime} runtime: core on its engine`, () => {
    // Core's README promises a stackless error's `stack` is its first line; Bun's engine leaves
    // it undefined at Error.stackTraceLimit 0 unless withoutStack writes it.
    it("withoutStack: an error's stack is its first line alone, not enumerable, and the stack trace limit is put back", async () => {
      const child = run('without-stack', '127.0.0.1:0');
      // The limit line comes last: the stack lines are all in by then.
      expect((await child.waitForLine(/^limit (\S+)$/))[1]).toBe('17');
      const stacks: unknown[] = child.lines.filter((l) => l.startsWith('stack ')).map((l) => JSON.parse(l.slice(6)));
      expect(stacks).toEqual(['RpcError: connection to 127.0.0.1:1 lost', 'Error', 'TypeError: not a number']);
      // Not enumerable, as V8's own: Object.assign (api's named copy of an error) would copy it.
      const enumerable = child.lines.find((l) => l.startsWith('enumerable '));
      expect(JSON.parse(enumerable!.slice('enumerable '.length))).toEqual([false, false, false]);
      expect(await exitCode(child)).toBe(0);
    });
  });

  describeNeeding([h.runtime], `${h.runtime} runtime: connect`, () => {
    const batches = [
      { kind: 'tcp', count: 100, size: 1000, what: '100 chunks of 1000 bytes' },
      { kind: 'unix', count: 100, size: 1000, what: '100 chunks of 1000 bytes' },
      // Far more than the kernel takes at once: the runtime's write is partial, and the adapter
      // must go on from where it stopped.
      { kind: 'tcp', count: 1, size: 16 << 20, what: 'one 16 MiB chunk' },
    ] as const;
    for (const { kind, count, size, what } of batches) {
      it(`writes ${what} as one batch, half-closes, and still reads the answer (${kind})`, async () => {
        const { address, conn, close } = await nodeServer(kind);
        try {
          const child = run('send-and-half-close', address, String(count), String(size));
          const sock = await conn;
          const received = await readAll(sock); // resolves at the child's FIN
          expect(received.length).toBe(count * size);
          expect(received.equals(Buffer.from(pattern(count * size, SEED.clientBatch)))).toBe(true);
          sock.end(`ok ${received.length}`);
          await child.waitForLine(new RegExp(`^received ok ${count * size}$`));
          expect((await child.waitForLine(/^closed err=(.*)$/))[1]).toBe('none');
          expect(await exitCode(child)).toBe(0);
        } finally {
          close();
        }
      });
    }

    it('reports the peer half-close to an end handler, and can still write after it', async () => {
      const { address, conn, close } = await nodeServer('tcp');
      try {
        const child = run('answer-end', address);
        const sock = await conn;
        const answer = readAll(sock);
        sock.end(pattern(300 * 1024, SEED.serverHalfClose));
        expect((await answer).toString()).toBe(`got ${300 * 1024} intact=true`);
        expect((await child.waitForLine(/^closed err=(.*)$/))[1]).toBe('none');
        expect(await exitCode(child)).toBe(0);
      } finally {
        close();
      }
    });

    it('fails a refused connect with RpcError Unreachable (TCP)', async () => {
      const child = run('connect-fail', `127.0.0.1:${await freePort()}`);
      const [, name, code] = await child.waitForLine(/^connect-error name=(\S+) code=(\S+)/);
      expect([name, code]).toEqual(['RpcError', '0']);
      expect(await exitCode(child)).toBe(0);
    });

    it('fails a connect to a missing socket file with RpcError Unreachable (Unix)', async () => {
      const child = run('connect-fail', `unix:${tmpSocketPath('missing')}`);
      const [, name, code] = await child.waitForLine(/^connect-error name=(\S+) code=(\S+)/);
      expect([name, code]).toEqual(['RpcError', '0']);
      expect(await exitCode(child)).toBe(0);
    });

    // The listener that never accepts is a Deno script: Node always accepts.
    itNeeding(['deno'], 'fails a connect that is not up by timeoutMs with RpcError Unreachable', async () => {
      const blackhole = killedAfterTest(startBlackhole());
      const child = run('connect-fail', await listening(blackhole), '300');
      const [, name, code, message] = await child.waitForLine(/^connect-error name=(\S+) code=(\S+) message=(.*)$/);
      expect([name, code]).toEqual(['RpcError', '0']);
      expect(message).toMatch(/300 ms/);
      // The listener was there: its backlog let the first connects in.
      expect(child.lines.some((l) => l.startsWith('connected '))).toBe(true);
      expect(await exitCode(child)).toBe(0);
    });

    // A minute's timeout, past the line's wait: only the signal can end the connect that hangs.
    // Its signal is AbortSignal.timeout's: a TimeoutError reason gives Timeout (core's connectAborted), not its own timeout's Unreachable.
    itNeeding(['deno'], 'gives up a connect that hangs when its signal times out, with RpcError Timeout naming the signal', async () => {
      const blackhole = killedAfterTest(startBlackhole());
      const child = run('connect-fail', await listening(blackhole), '60000', '2000');
      const [, name, code, message] = await child.waitForLine(/^connect-error name=(\S+) code=(\S+) message=(.*)$/);
      expect([name, code]).toEqual(['RpcError', '2']);
      expect(message.startsWith(`connect to ${await listening(blackhole)} timed out (its signal: TimeoutError: `)).toBe(true);
      expect(child.lines.some((l) => l.startsWith('connected '))).toBe(true);
      expect(await exitCode(child)).toBe(0);
    });
  });
}

/**
 * Kills the child when the test ends, passed or failed: a failed test must not leave a runtime
 * running (the test process's exit hook does not run when Vitest ends a worker).
 */
function killedAfterTest(child: Proc): Proc {
  onTestFinished(() => child.kill('SIGKILL'));
  return child;
}

/**
 * A TCP listener with a backlog of one that never accepts: once its queue is full, the kernel
 * drops further SYNs and a connect hangs. Node always accepts, so Deno keeps it.
 */
function startBlackhole(): Proc {
  const script = fileURLToPath(new URL('../fixtures/tcp-blackhole.ts', import.meta.url));
  return launch('deno', script);
}

function toNodeAddress(address: string): { path: string } | { host: string; port: number } {
  if (address.startsWith('unix:')) return { path: address.slice(5) };
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/** A client that keeps reading after its own end (`allowHalfOpen`). */
function nodeConnect(address: string): net.Socket {
  const a = toNodeAddress(address);
  return 'path' in a ? net.connect({ path: a.path, allowHalfOpen: true }) : net.connect({ host: a.host, port: a.port, allowHalfOpen: true });
}

/** The code a connect to `address` fails with, or 'connected'. */
function connectError(address: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = nodeConnect(address);
    sock.on('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** Everything the socket receives until the peer's FIN. */
function readAll(sock: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => resolve(Buffer.concat(chunks)));
    sock.on('error', reject);
  });
}

/** A Node server (half-open allowed) on loopback or a temp socket path, and its first connection. */
async function nodeServer(kind: 'tcp' | 'unix'): Promise<{ address: string; conn: Promise<net.Socket>; close(): void }> {
  let accepted!: (s: net.Socket) => void;
  const conn = new Promise<net.Socket>((resolve) => (accepted = resolve));
  const sockets: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    accepted(s);
  });
  const path = kind === 'unix' ? tmpSocketPath('node') : undefined;
  await new Promise<void>((resolve) => (path ? server.listen(path, resolve) : server.listen(0, '127.0.0.1', resolve)));
  const address = path ? `unix:${path}` : `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    address,
    conn,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
