import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Address } from '@skein/core';

/** A listener that accepts connections and never says a byte: every handshake on it hangs. */
export interface SilentPeer {
  /** Where it listens, shaped like the address it was made for (its TLS flag and URL path kept). */
  readonly address: Address;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Resolves true once every connection accepted so far has closed (its peer let it go), false at `ms`. */
  allClosed(ms: number): Promise<boolean>;
  /** Stops listening and drops what it holds. */
  close(): Promise<void>;
}

let made = 0;

/**
 * A silent peer on loopback TCP, or on a Unix socket when `like` is a path: a TLS hello, a
 * WebSocket upgrade sent to it is read (so that the peer's close is seen) and never answered.
 */
export async function silentPeer(like: Address): Promise<SilentPeer> {
  const sockets: net.Socket[] = [];
  const closes: Promise<void>[] = [];
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.resume();
    sockets.push(s);
    closes.push(new Promise((resolve) => s.once('close', () => resolve())));
  });
  const file = 'path' in like ? path.join(os.tmpdir(), `skein-silent-${process.pid}-${++made}.sock`) : undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (file) server.listen(file, resolve);
    else server.listen(0, '127.0.0.1', resolve);
  });
  const address: Address = file
    ? { path: file, ...(like.tls && { tls: true }) }
    : { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, ...(like.tls && { tls: true }), ...('urlPath' in like && like.urlPath !== undefined && { urlPath: like.urlPath }) };
  return {
    address,
    get accepted() {
      return sockets.length;
    },
    allClosed: (ms) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
      return Promise.race([Promise.all([...closes]).then(() => true), late]).finally(() => clearTimeout(timer));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
