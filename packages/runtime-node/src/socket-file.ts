import net from 'node:net';
import { lstat, unlink } from 'node:fs/promises';
import type { SocketFileAccess } from '@skein/core';

/** Node's file system and sockets, as core's clearStaleSocket needs them. */
export const socketFiles: SocketFileAccess = {
  async lstat(path) {
    const stat = await lstat(path).catch(unlessCode('ENOENT'));
    return stat === undefined ? undefined : stat.isSocket() ? 'socket' : 'file';
  },
  accepts: (path) =>
    new Promise((resolve, reject) => {
      const probe = net.connect({ path });
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', (err: NodeJS.ErrnoException) => {
        probe.destroy();
        if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
        else reject(err);
      });
    }),
  remove: (path) => unlink(path).catch(unlessCode('ENOENT')),
};

/** A catch handler that turns the error with `code` into undefined and rethrows the rest. */
const unlessCode =
  (code: string) =>
  (err: NodeJS.ErrnoException): undefined => {
    if (err.code === code) return undefined;
    throw err;
  };
