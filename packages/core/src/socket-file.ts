import { listenFailed } from './rpc-error.js';

/** What clearing a Unix socket path needs from a runtime: its file system and its sockets. */
export interface SocketFileAccess {
  /** What is at `path`: a socket, another kind of file, or nothing (undefined). */
  lstat(path: string): Promise<'socket' | 'file' | undefined>;
  /** True when a server accepts a connection at `path`; false when it is refused or the file is gone. Rejects when it cannot tell. */
  accepts(path: string): Promise<boolean>;
  /** Removes the file at `path`; a file already gone is no error. */
  remove(path: string): Promise<void>;
}

/**
 * Makes way for a Unix socket server at `path`, the same on every runtime. A socket file left by
 * a server that died refuses connections: it is removed. A live server, or a file that is not a
 * socket, is left alone, and listening fails with a message that says which.
 */
export async function clearStaleSocket(path: string, access: SocketFileAccess): Promise<void> {
  const where = `unix:${path}`;
  const failed = (what: string) => (err: unknown): never => {
    throw listenFailed(where, `${what}: ${(err as Error)?.message ?? String(err)}`, err);
  };
  const kind = await access.lstat(path).catch(failed('cannot look at the file there'));
  if (kind === undefined) return;
  if (kind !== 'socket') throw listenFailed(where, 'a file that is not a socket is in the way');
  if (await access.accepts(path).catch(failed('cannot tell whether a server is there'))) {
    throw listenFailed(where, 'a live server is listening there');
  }
  await access.remove(path).catch(failed('cannot remove the stale socket file'));
}
