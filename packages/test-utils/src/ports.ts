import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

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

/** A fresh Unix socket path under the temp dir (short: socket paths are limited to ~100 bytes). */
export function tmpSocketPath(tag = 'skein'): string {
  return path.join(os.tmpdir(), `${tag}-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
}
