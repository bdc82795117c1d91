import { DEFAULT_CONNECT_TIMEOUT_MS, connectFailed, connectTimerMs, formatAddress } from '@skein/core';
import type { Address, ByteConn, ConnectOptions } from '@skein/core';
import { DenoByteConn } from './byte-conn.js';
import type { DenoApi, DenoConn } from './native-api.js';
import { denoTarget, describe } from './socket-address.js';

declare const Deno: DenoApi;

/**
 * Opens a TCP or Unix socket connection; every failure rejects with Unreachable, except a missing
 * permission (`NotCapable`), which is the program's fault, not the network's: no other node would do.
 */
export async function connect(address: Address, options: ConnectOptions = {}): Promise<ByteConn> {
  const remote = formatAddress(address);
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), connectTimerMs(timeoutMs));
  try {
    const target = denoTarget(address);
    const pending = target.transport === 'tcp' ? Deno.connect({ ...target, signal: abort.signal }) : Deno.connect(target);
    const conn = await abortable(pending, abort.signal);
    if (target.transport === 'tcp') conn.setNoDelay?.(options.noDelay ?? true);
    return new DenoByteConn(conn, remote);
  } catch (err) {
    if ((err as Error)?.name === 'NotCapable') throw err;
    throw connectFailed(remote, abort.signal.aborted ? `no connection after ${timeoutMs} ms` : describe(err), err);
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects when `signal` aborts first (a Unix connect takes no signal); a late connection is closed. */
function abortable(pending: Promise<DenoConn>, signal: AbortSignal): Promise<DenoConn> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason);
      pending.then((conn) => conn.close(), () => {});
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
