import { lstat, unlink } from 'node:fs/promises';
import type { SocketFileAccess } from '@skein/core';
import type { BunApi } from './native-api.js';

declare const Bun: BunApi;

/** Bun's file system (its node:fs) and sockets, as core's clearStaleSocket needs them. */
export const socketFiles: SocketFileAccess = {
  async lstat(path) {
    const stat = await lstat(path).catch(ifMissing);
    return stat === undefined ? undefined : stat.isSocket() ? 'socket' : 'file';
  },
  async accepts(path) {
    try {
      const probe = await Bun.connect({ unix: path, socket: { data() {}, connectError() {} } });
      probe.close();
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ECONNREFUSED' || code === 'ENOENT') return false;
      throw err;
    }
  },
  remove: (path) => unlink(path).catch(ifMissing),
};

/** A missing file is undefined; any other error is rethrown. */
function ifMissing(err: { code?: string }): undefined {
  if (err.code !== 'ENOENT') throw err;
  return undefined;
}
