import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { msgpackCodec } from '@skein/codec-msgpack';
import { RpcError, type TlsOptions } from '@skein/core';
import { createClient } from '@skein/api';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer, type ClientStreamOptions, type Dispatch, type RpcServerOptions } from '@skein/stream';
import { portOf } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { onTestFinished } from 'vitest';
import { WorkerPool, type WorkerPoolOptions } from '../src/index.js';
import { Calc } from './fixtures/calc.mjs';

export const transport = tcpTransport(nodeRuntime);
export const CALC_MODULE = new URL('./fixtures/calc.mjs', import.meta.url);
export const ROUTER_MODULE = new URL('./fixtures/router.mjs', import.meta.url);
/** Calls that wait at a gate until the test opens it (fixtures/gates.mjs; see `gate()`). */
export const GATES_MODULE = new URL('./fixtures/gates.mjs', import.meta.url);
/** The calc module, unless `hangOnLoad` has told it to hang while it loads (fixtures/hangs-on-load.mjs). */
export const HANGS_ON_LOAD_MODULE = new URL('./fixtures/hangs-on-load.mjs', import.meta.url);

/** The file that tells HANGS_ON_LOAD_MODULE how to hang: named by the process, as a worker sees it. */
const hangMarker = `${tmpdir()}/skein-workers-hang-${process.pid}`;

/**
 * From now until the calling test ends, a worker that loads HANGS_ON_LOAD_MODULE never finishes
 * loading it: a top-level `loop` that never yields, or a top-level `await` that never settles.
 */
export function hangOnLoad(how: 'loop' | 'await'): void {
  writeFileSync(hangMarker, how);
  onTestFinished(() => rmSync(hangMarker, { force: true }));
}

let gates = 0;
/** A gate of the calling test's own, for GATES_MODULE: its name goes as the msg of the calls that wait at it. */
export function gate() {
  const name = `gate-${process.pid}-${++gates}`;
  return {
    msg: new TextEncoder().encode(name),
    open() {
      const bc = new BroadcastChannel('skein-workers-test-gates');
      bc.postMessage(name);
      bc.close();
    },
  };
}

/**
 * Vitest runs tests with `--conditions skein-source`, which the workers would inherit and then
 * try to import TypeScript sources; the workers run the built packages instead.
 */
export const startPool = (opts: Omit<WorkerPoolOptions, 'execArgv'>): Promise<WorkerPool> => WorkerPool.start({ execArgv: [], ...opts });

/** TLS options for both ends (`tcpTransport`'s `tls`): the server's, then the client's. */
export interface TlsPair {
  readonly server: TlsOptions;
  readonly client: TlsOptions;
}

/** A server on loopback with `dispatch`, one ClientStream to it and a typed Calc client. */
export async function serve(dispatch: Dispatch, serverOpts: Partial<RpcServerOptions> = {}, clientOpts: Partial<ClientStreamOptions> = {}, tls?: TlsPair) {
  const server = new RpcServer({ ...serverOpts, dispatch });
  const a = await server.listen(tls ? tcpTransport(nodeRuntime, { tls: tls.server }) : transport, '127.0.0.1:0');
  const port = portOf(a);
  const address = `${tls ? 'tls://' : ''}127.0.0.1:${port}`;
  const clientTransport = tls ? tcpTransport(nodeRuntime, { tls: tls.client }) : transport;
  const stream = await ClientStream.connect({ transport: clientTransport, address, window: 1024, maxQueued: 100_000, ...clientOpts });
  return {
    server,
    port,
    stream,
    calc: createClient(Calc, stream, { codec: msgpackCodec }),
    async close() {
      stream.destroy();
      await server.close();
    },
  };
}

/** What a call ended with, in a form two runs can be compared by. */
export async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await p };
  } catch (err) {
    if (err instanceof RpcError) return { code: err.codeName, retry: err.retry, message: err.message };
    return { error: (err as Error).constructor.name, message: (err as Error).message };
  }
}
