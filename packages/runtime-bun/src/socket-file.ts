import { lstat, unlink } from 'node:fs/promises';
import type { BunApi } from './bun-api.js';

declare const Bun: BunApi;

/**
 * A socket file left behind by a server that died keeps `listen` out (EADDRINUSE). Like most
 * servers, remove it when nothing answers on it; a live server's file, or anything that is not a
 * socket, is left alone and `listen` then fails as usual.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (!stat?.isSocket()) return;
  try {
    const probe = await Bun.connect({ unix: path, socket: { data() {}, connectError() {} } });
    probe.close();
  } catch (err) {
    if ((err as { code?: string }).code === 'ECONNREFUSED') await removeSocketFile(path);
  }
}

/** Removes the file if it is still there. */
export async function removeSocketFile(path: string): Promise<void> {
  await unlink(path).catch(() => {});
}
