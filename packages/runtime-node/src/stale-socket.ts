import net from 'node:net';
import { lstat, unlink } from 'node:fs/promises';

/**
 * Makes way for a Unix socket server at `path`. A socket file left by a process that died
 * refuses connections: it is removed. A live server, or a file that is not a socket, is left
 * alone and reported.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch(unlessCode('ENOENT'));
  if (stat === undefined) return;
  if (!stat.isSocket()) throw new Error(`cannot listen on unix:${path}: a file that is not a socket is in the way`);
  if (await acceptsConnections(path)) throw new Error(`cannot listen on unix:${path}: a live server is listening there`);
  await unlink(path).catch(unlessCode('ENOENT'));
}

/** True when something accepts at `path`; false when it is refused (a stale file) or gone. */
function acceptsConnections(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      probe.destroy();
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(new Error(`cannot listen on unix:${path}: cannot tell whether a server is there: ${err.message}`, { cause: err }));
    });
  });
}

/** A catch handler that turns the error with `code` into undefined and rethrows the rest. */
const unlessCode =
  (code: string) =>
  (err: NodeJS.ErrnoException): undefined => {
    if (err.code === code) return undefined;
    throw err;
  };
