import type { SocketFileAccess } from '@skein/core';
import type { DenoApi } from './native-api.js';

declare const Deno: DenoApi;

/** Deno's file system and sockets, as core's clearStaleSocket needs them. */
export const socketFiles: SocketFileAccess = {
  async lstat(path) {
    const stat = await Deno.lstat(path).catch(ifMissing);
    return stat === undefined ? undefined : stat.isSocket ? 'socket' : 'file';
  },
  async accepts(path) {
    try {
      (await Deno.connect({ transport: 'unix', path })).close();
      return true;
    } catch (err) {
      const name = (err as Error)?.name;
      if (name === 'ConnectionRefused' || name === 'NotFound') return false;
      throw err;
    }
  },
  remove: (path) => Deno.remove(path).catch(ifMissing),
};

/** A missing file is undefined; any other error is rethrown. */
function ifMissing(err: unknown): undefined {
  if ((err as Error)?.name !== 'NotFound') throw err;
  return undefined;
}
