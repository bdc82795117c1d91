import { connectAborted, connectFailed, connectTimerMs, whenAborted, type Address, type FrameConn } from '@skein/core';

export interface Settle {
  ok(conn: FrameConn): void;
  fail(err: Error): void;
}

/**
 * `ws://host:port/path` (`wss://` when `secure`), or ws's own `ws+unix:/socket/path:/path` for a
 * Unix socket. An address's own URL path (`wss://host:port/path`) beats the transport's `path`.
 */
export function wsUrl(address: Address, path: string, secure = false): string {
  if ('path' in address) return `${secure ? 'wss' : 'ws'}+unix:${address.path}:${path}`;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${secure ? 'wss' : 'ws'}://${host}:${address.port}${address.urlPath ?? path}`;
}

/**
 * Runs a client's opening handshake: the first outcome wins, and the timeout gives up on it, as
 * does an abort of `signal` (Cancelled). Giving up runs what `start` returned: the socket's end.
 */
export function handshake(url: string, timeoutMs: number, start: (settle: Settle) => () => void, signal?: AbortSignal): Promise<FrameConn> {
  if (signal?.aborted) return Promise.reject(connectAborted(url, signal.reason));
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unhookAbort = (): void => {};
    let done = false;
    const once = (f: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unhookAbort();
      f();
    };
    const cancel = start({ ok: (conn) => once(() => resolve(conn)), fail: (err) => once(() => reject(err)) });
    const giveUp = (err: Error): void => {
      cancel();
      reject(err);
    };
    if (done) return;
    timer = setTimeout(() => once(() => giveUp(connectFailed(url, `no handshake within ${timeoutMs} ms`))), connectTimerMs(timeoutMs));
    unhookAbort = whenAborted(signal, () => once(() => giveUp(connectAborted(url, signal!.reason))));
  });
}
