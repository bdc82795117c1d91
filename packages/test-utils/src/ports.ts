import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Address } from '@skein/core';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral range (Linux's
 * 32768-60999): no other socket's bind to port 0, nor an outgoing connection, takes it while the
 * server on it is down between two starts on it (an etcd restarted on its ports: seen in CI,
 * "bind: address already in use" at the restart).
 */
export async function freeStablePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await bindable(port)) return port;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * `n` distinct TCP ports on 127.0.0.1 that were free a moment ago. Each is held until all are
 * found: `freePort()` twice may give the same port twice (the first is closed before the second
 * is asked for), and two "dead" servers on one port make a pool refuse its list.
 */
export async function freePorts(n: number): Promise<number[]> {
  const held: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      srv.unref();
      held.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', resolve);
      });
    }
    return held.map((srv) => (srv.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(held.map((srv) => new Promise((resolve) => srv.close(resolve))));
  }
}

/** A fresh Unix socket path under the temp dir (short: socket paths are limited to ~100 bytes). */
export function tmpSocketPath(tag = 'skein'): string {
  return path.join(os.tmpdir(), `${tag}-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
}

/**
 * The TCP port a listener is bound to, from the address `RpcServer.listen` resolves with (or a
 * transport listener's `address`). It throws on a Unix socket's address, or a port that was never
 * bound (0), instead of giving 0: a test that meant TCP but listened on a path would otherwise
 * fail later and elsewhere, as a refused or unparseable `127.0.0.1:0`.
 */
export function portOf(address: Address): number {
  if (!('port' in address)) {
    throw new TypeError(`portOf: ${JSON.stringify(address)} is a Unix socket's address, not a TCP host and port`);
  }
  const { port } = address;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`portOf: port ${String(port)} of ${JSON.stringify(address)} is not a bound port (1..65535)`);
  }
  return port;
}
