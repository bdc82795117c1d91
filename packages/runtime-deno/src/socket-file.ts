import type { DenoApi } from './deno-api.js';

declare const Deno: DenoApi;

/**
 * A socket file left behind by a server that died keeps `listen` out (AddrInUse). Like most
 * servers, remove it when nothing answers on it; a live server's file, or anything that is not a
 * socket, is left alone and `listen` then fails as usual.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  const stat = await Deno.lstat(path).catch(() => undefined);
  if (!stat?.isSocket) return;
  try {
    (await Deno.connect({ transport: 'unix', path })).close();
  } catch (err) {
    if ((err as Error).name === 'ConnectionRefused') await removeSocketFile(path);
  }
}

/** Removes the file if it is still there. */
export async function removeSocketFile(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
}
