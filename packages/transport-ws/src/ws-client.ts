import { connectFailed, connectTimerMs, ErrorCode, formatAddress, invalidArgument, RpcError, type Address, type FrameConn, type FrameSpec } from '@skein/core';
import type { ResolvedOptions } from './options.js';
import { standardMessageConn, type StandardWebSocketCtor } from './standard-socket.js';
import { wsMessageConn } from './ws-socket.js';

/** Connects with `ws` under Node, or with the standard WebSocket API elsewhere (or when given one). */
export function connectClient(address: Address, spec: FrameSpec, options: ResolvedOptions, timeoutMs: number): Promise<FrameConn> {
  const Standard = options.WebSocket ?? (preferStandardApi() ? globalWebSocket() : undefined);
  return Standard ? connectStandard(Standard, address, spec, options, timeoutMs) : connectWs(address, spec, options, timeoutMs);
}

/**
 * Bun and Deno also set `process.versions.node`, but their own WebSocket beats `ws` under their
 * Node compatibility layers; under Node `ws` is preferred (fragments, send callbacks, Unix sockets).
 */
function preferStandardApi(): boolean {
  const versions = (globalThis as { process?: { versions?: Record<string, string | undefined> } }).process?.versions;
  return globalWebSocket() !== undefined && (!versions?.node || !!versions.bun || !!versions.deno);
}

function globalWebSocket(): StandardWebSocketCtor | undefined {
  return (globalThis as { WebSocket?: StandardWebSocketCtor }).WebSocket;
}

/** `ws://host:port/path`, or ws's own `ws+unix:/socket/path:/path` for a Unix socket. */
export function wsUrl(address: Address, path: string): string {
  if ('path' in address) return `ws+unix:${address.path}:${path}`;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `ws://${host}:${address.port}${path}`;
}

async function connectWs(address: Address, spec: FrameSpec, options: ResolvedOptions, timeoutMs: number): Promise<FrameConn> {
  // Loaded on first use, so a browser bundle that only uses the standard client never pulls it in.
  const { WebSocket } = await import('ws');
  const url = wsUrl(address, options.path);
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: options.maxWsMessageBytes, headers: options.headers });
  const remote = formatAddress(address);
  return handshake(url, timeoutMs, (settle) => {
    ws.on('open', () => settle.ok(wsMessageConn(ws, remote, spec, options)));
    ws.on('unexpected-response', (_req, res) => {
      settle.fail(refused(url, res.statusCode ?? 0));
      ws.terminate();
    });
    ws.on('error', (err) => settle.fail(connectFailed(url, err.message, err)));
    return () => ws.terminate();
  });
}

function connectStandard(
  Ctor: StandardWebSocketCtor,
  address: Address,
  spec: FrameSpec,
  options: ResolvedOptions,
  timeoutMs: number,
): Promise<FrameConn> {
  if ('path' in address) {
    return Promise.reject(invalidArgument(`the standard WebSocket API cannot dial a Unix socket (${address.path}); use Node, where ws can`));
  }
  const url = wsUrl(address, options.path);
  const ws = new Ctor(url);
  // The default, Blob, would make every message an async read.
  ws.binaryType = 'arraybuffer';
  return handshake(url, timeoutMs, (settle) => {
    ws.addEventListener('open', () => settle.ok(standardMessageConn(ws, formatAddress(address), spec, options)));
    // The standard API does not say why a handshake failed (refused, 401, 404 look the same).
    ws.addEventListener('close', (ev) => settle.fail(connectFailed(url, `closed before opening (${ev.code})`)));
    ws.addEventListener('error', () => {});
    return () => ws.close();
  });
}

interface Settle {
  ok(conn: FrameConn): void;
  fail(err: Error): void;
}

/** Runs a handshake: the first outcome wins, and the timeout gives up on it. */
function handshake(url: string, timeoutMs: number, start: (settle: Settle) => () => void): Promise<FrameConn> {
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

function refused(url: string, status: number): RpcError {
  if (status === 401 || status === 403) {
    return new RpcError(ErrorCode.Unauthenticated, `${url} refused the connection: HTTP ${status}`);
  }
  const why = status === 404 ? ' (no Skein endpoint on that path?)' : '';
  return new RpcError(ErrorCode.Unreachable, `${url} answered HTTP ${status} instead of upgrading${why}`);
}
