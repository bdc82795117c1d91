import { parseAddress, silentLogger, type Transport } from '@skein/core';
import { startProcess, type Proc } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { RpcServer, createRouter, type ActionHandler, type FailoverPool, type Reply, type RpcServerOptions } from '../src/index.js';
import { requestFrameSpec } from '../src/wire/frame-specs.js';
import { DEFAULT_LIMITS } from '../src/wire/limits.js';
import { readRequestHeader, type RequestHeader } from '../src/wire/protocol.js';
import { transport } from './harness.js';

const utf8 = new TextEncoder();
const text = new TextDecoder();
export const str = (s: string): Uint8Array => utf8.encode(s);
export const textOf = (r: Reply): string => text.decode(r.msg);

/** A transport whose listeners count the connections they accept, and which counts the connects that succeed. */
export function countingTransport(base: Transport = transport): Transport & { accepted: number; connected: number } {
  const t = {
    name: base.name,
    accepted: 0,
    connected: 0,
    connect: async (...args: Parameters<Transport['connect']>) => {
      const conn = await base.connect(...args);
      t.connected++;
      return conn;
    },
    listen: (address: Parameters<Transport['listen']>[0], spec: Parameters<Transport['listen']>[1], accept: Parameters<Transport['listen']>[2]) =>
      base.listen(address, spec, (conn) => {
        t.accepted++;
        accept(conn);
      }),
  };
  return t;
}

export interface LocalServer {
  server: RpcServer;
  address: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Requests handled per action. */
  counts: Record<string, number>;
}

/** An in-process server that counts accepted connections and requests per action; `opts` go to its RpcServer. */
export async function localServer(table: Record<string, ActionHandler>, listenOn = '127.0.0.1:0', opts: Omit<RpcServerOptions, 'dispatch'> = {}): Promise<LocalServer> {
  const t = countingTransport();
  const counts: Record<string, number> = {};
  const counted: Record<string, ActionHandler> = {};
  for (const [action, h] of Object.entries(table)) {
    counted[action] = (req) => {
      counts[action] = (counts[action] ?? 0) + 1;
      return h(req);
    };
  }
  const server = new RpcServer({ closeWaitMs: 300, ...opts, dispatch: createRouter(counted, silentLogger) });
  const a = await server.listen(t, listenOn);
  const address = 'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`;
  return {
    server,
    address,
    counts,
    get accepted() {
      return t.accepted;
    },
  };
}

export interface HungServer {
  address: string;
  /** The headers of the requests it read (a pool's first ping among them). */
  got: RequestHeader[];
  close(): Promise<void>;
}

/**
 * A hung server: its kernel completes the handshake, and nothing ever answers. It records the
 * requests it reads, so that a test knows when a pool's first ping is out.
 */
export async function hungServer(): Promise<HungServer> {
  const got: RequestHeader[] = [];
  const listener = await transport.listen(parseAddress('127.0.0.1:0'), requestFrameSpec(DEFAULT_LIMITS), (conn) => {
    conn.bind({ frame: (bytes, start) => void got.push(readRequestHeader(bytes.subarray(start))), drain: () => {}, close: () => {} });
  });
  return { address: `127.0.0.1:${(listener.address as { port: number }).port}`, got, close: () => listener.close() };
}

const fixture = fileURLToPath(new URL('./fixtures/pool-server.mjs', import.meta.url));

export interface ChildServer {
  proc: Proc;
  name: string;
  address: string;
  port: number;
  /** The ids this server printed as run (`record`). */
  ran(): string[];
  /** Resolves once the process has exited and all its output is read. */
  gone(): Promise<void>;
}

/** The pool fixture server in a child process (on the built packages). */
export async function childServer(name: string, port = 0): Promise<ChildServer> {
  const proc = startProcess(process.execPath, [fixture, name, String(port)]);
  const [, p] = await proc.waitForLine(/listening (\d+)/);
  const stdout = proc.child.stdout!;
  const ended = new Promise<void>((resolve) => {
    if (stdout.readableEnded) resolve();
    else stdout.once('end', () => setImmediate(resolve));
  });
  return {
    proc,
    name,
    port: Number(p),
    address: `127.0.0.1:${p}`,
    ran: () => proc.lines.filter((l) => l.startsWith('ran ')).map((l) => l.slice(4)),
    gone: async () => {
      await proc.exited;
      await ended;
    },
  };
}

/** `childServer`s killed (SIGKILL) by `cleanup` once the test ends, each awaited until gone. */
export function killedAfterEach(cleanup: { push(fn: () => unknown): void }): (name: string, port?: number) => Promise<ChildServer> {
  return async (name, port) => {
    const c = await childServer(name, port);
    cleanup.push(() => {
      c.proc.kill('SIGKILL');
      return c.gone();
    });
    return c;
  };
}

/** `action` on the server at `address` alone, through the pool (`sendTo`): its answer, or its failure's error. */
export function callOn(pool: FailoverPool, address: string, action: string): Promise<string | unknown> {
  return new Promise((resolve) => pool.sendTo(address, action, new Uint8Array(), {}, (err, reply) => resolve(err ?? textOf(reply!))));
}

/** Whether `call` has settled, once what the last clock advance set off has run (a macrotask on). */
export async function settledYet(call: Promise<unknown>): Promise<boolean> {
  let settled = false;
  const mark = (): void => void (settled = true);
  void call.then(mark, mark);
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}
