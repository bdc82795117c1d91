import { invalidArgument, refuseRenamed, type Address, type Clock, type Logger, type OptionalFields, type Transport } from '@skein/core';
import { helloU32, nonNegative, positive, positiveInteger, timerMs } from '../internals/checks.js';
import type { Limits } from '../wire/limits.js';
import { resolveClientLimits, type ClientLimits } from './client-limits.js';
import { checkCredentials, type Credentials } from './credentials.js';
import { sendsHello } from './hello.js';
import { DEFAULT_STREAM_WINDOW } from '../wire/agreed.js';
import { DEFAULT_MAX_HEAD } from '../wire/call-head.js';
import type { Dispatch } from '../server/dispatch.js';
import type { ServeSettings } from './reverse-dispatch.js';

export interface ClientStreamOptions {
  transport: Transport;
  /** `host:port`, `unix:/path` or an Address. */
  address: string | Address;
  /** Calls in flight at once. Default 128. */
  window?: number | undefined;
  /** Calls allowed to wait for the window; past it a call fails with Overloaded. Default 65 536. Calls held for the hello's answer that the window has room for are not counted. */
  maxQueued?: number | undefined;
  /**
   * Default per-call timeout. Default 20 s. A call fails within max(10 %, 50 ms) after its
   * timeout, never before: timeouts are checked in batches, on a ticker whose period follows the
   * shortest timeout pending (from `tickMs` down to 25 ms), not with a timer per call.
   */
  timeoutMs?: number | undefined;
  /** How long the transport may take to connect. Default: the transport's (10 s for TCP and WebSocket). */
  connectTimeoutMs?: number | undefined;
  /** Ping when nothing was received for this long. Default 1 s; 0 disables keepalive. */
  keepaliveMs?: number | undefined;
  /** A ping unanswered for this long declares the peer dead. Default 5 s. */
  keepaliveTimeoutMs?: number | undefined;
  /**
   * The coarsest period of the timeout and keepalive checks, in ms (1 ms to 2^31 - 1). Default
   * 1 s: fine enough for timeouts of 20 s and more; shorter ones make the checks run more often
   * while they are pending.
   */
  tickMs?: number | undefined;
  /** What this client reads: frame limits (`maxMessage`, `maxBlob`, `maxAction`) and `maxReplyMetadata` (client-limits.ts). */
  limits?: OptionalFields<ClientLimits> | undefined;
  /**
   * Bytes a server may send on one stream before this client has read them (its receive
   * window, told to the server in the hello). Default 1 MiB. (`window` and `serveWindow` count calls.)
   */
  streamWindowBytes?: number | undefined;
  /**
   * Presented to the server before any call, if it asks for them in its answer to the hello
   * (docs/auth.md; a server that does not authenticate never receives them): a token (string or
   * bytes), or a function called for each connection and each renewal (it may return a
   * promise, to fetch a fresh token). With credentials, `connect` waits for the server's verdict
   * (up to `connectTimeoutMs`, default 10 s) and fails with its Unauthenticated or
   * PermissionDenied; the stream renews them before the server's grant runs out. A function
   * that has not settled within `connectTimeoutMs` fails the connect with Unauthenticated.
   */
  credentials?: Credentials | undefined;
  /**
   * Serve calls from the server over this connection (docs/protocol.md, "Calls both ways"): the
   * server's `req.conn.caller` then calls the services this dispatch serves (a
   * `createServiceDispatch(...)`, a router, a WorkerPool). Offered in the hello: a server
   * that does not agree it (razor v1, an older Skein) never calls.
   */
  serve?: Dispatch | undefined;
  /** Calls from the server run at once with `serve`; past it the server holds them back. Default 64. */
  serveWindow?: number | undefined;
  logger?: Logger | undefined;
  clock?: Clock | undefined;
  /**
   * Called once, synchronously, when the stream reaches 'closed' (however it got there), before
   * its unsettled calls are failed: a pool uses it to stop routing to the stream before those
   * calls are retried elsewhere.
   */
  onClose?: ((err: Error | undefined) => void) | undefined;
}

/** A ClientStream's settings with defaults filled in, all checked. */
export interface StreamSettings {
  window: number;
  maxQueued: number;
  timeoutMs: number;
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
  tickMs: number;
  limits: ClientLimits;
  streamWindowBytes: number;
  /** Set when the stream serves calls from the server. */
  serve: ServeSettings | undefined;
}

/**
 * Checks a stream's options and fills in defaults. Runs before connecting, so a bad option
 * leaves no connection open; a pool runs it when built, since a bad option would fail every
 * reconnect. `prefix` names where the options sit in the caller's own (`stream.`).
 */
export function resolveStreamOptions(opts: Partial<ClientStreamOptions>, prefix = ''): StreamSettings {
  if (opts.connectTimeoutMs !== undefined) positive(opts.connectTimeoutMs, `${prefix}connectTimeoutMs`);
  if (opts.onClose !== undefined && typeof opts.onClose !== 'function') throw invalidArgument(`${prefix}onClose must be a function`);
  refuseRenamed(opts, 'streamWindow', 'streamWindowBytes', 'ClientStream', prefix);
  checkCredentials(opts.credentials, `${prefix}credentials`);
  const limits = resolveClientLimits(opts.limits);
  if (opts.credentials !== undefined && !sendsHello(limits)) {
    throw invalidArgument(`${prefix}credentials need limits.maxMessage and limits.maxBlob of 1024 or more: auth is agreed in the hello`);
  }
  return {
    window: positiveInteger(opts.window ?? 128, `${prefix}window`),
    maxQueued: positiveInteger(opts.maxQueued ?? 65_536, `${prefix}maxQueued`),
    timeoutMs: positive(opts.timeoutMs ?? 20_000, `${prefix}timeoutMs`),
    keepaliveMs: nonNegative(opts.keepaliveMs ?? 1000, `${prefix}keepaliveMs`),
    keepaliveTimeoutMs: positive(opts.keepaliveTimeoutMs ?? 5000, `${prefix}keepaliveTimeoutMs`),
    tickMs: timerMs(opts.tickMs ?? 1000, `${prefix}tickMs`),
    limits,
    streamWindowBytes: helloU32(opts.streamWindowBytes ?? DEFAULT_STREAM_WINDOW, `${prefix}streamWindowBytes`),
    serve: serveSettings(opts, limits, prefix),
  };
}

function serveSettings(opts: Partial<ClientStreamOptions>, limits: Limits, prefix: string): ServeSettings | undefined {
  if (opts.serve === undefined) {
    if (opts.serveWindow !== undefined) throw invalidArgument(`${prefix}serveWindow needs serve: a dispatch to run the server's calls`);
    return undefined;
  }
  if (typeof opts.serve?.dispatch !== 'function') throw invalidArgument(`${prefix}serve must be a Dispatch (an object with dispatch(req))`);
  if (!sendsHello(limits)) throw invalidArgument(`${prefix}serve needs limits.maxMessage and limits.maxBlob of 1024 or more: it is agreed in the hello`);
  // Reverse call heads are bounded as a server bounds forward ones, by the same default (wire/reverse-heads.ts).
  return { dispatch: opts.serve, window: helloU32(opts.serveWindow ?? 64, `${prefix}serveWindow`), maxHead: DEFAULT_MAX_HEAD };
}
