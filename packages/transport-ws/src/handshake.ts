import { connectFailed, connectTimerMs, type Address, type FrameConn } from '@skein/core';

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

/** Runs a client's opening handshake: the first outcome wins, and the timeout gives up on it. */
export function handshake(url: string, timeoutMs: number, start: (settle: Settle) => () => void): Promise<FrameConn> {
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const once = (f: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      f();
    };
    const cancel = start({ ok: (conn) => once(() => resolve(conn)), fail: (err) => once(() => reject(err)) });
    const giveUp = (): void => {
      cancel();
      reject(connectFailed(url, `no handshake within ${timeoutMs} ms`));
    };
    if (!done) timer = setTimeout(() => once(giveUp), connectTimerMs(timeoutMs));
  });
}
