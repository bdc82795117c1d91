import { guardedLogger, invalidArgument, isRuntime, MAX_TIMER_MS, refuseRenamed, refuseUnknownOptions, silentLogger, type Logger, type TlsOptions } from '@skein/core';
import { CLOSE_LINGER_MS } from './close-linger.js';
import type { StandardWebSocketCtor } from './standard-socket.js';

/** What the server's upgrade hook sees of an upgrade request. */
export interface UpgradeRequest {
  /** Path and query, e.g. `/skein?token=abc`. */
  readonly url: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly remoteAddress: string;
}

export interface WsTransportOptions {
  /**
   * URL path of the endpoint; a server answers 404 on other paths. A client may add a query
   * (`/skein?token=abc`) for its server's upgrade hook to read. Default `/skein`.
   */
  path?: string | undefined;
  /**
   * Largest WebSocket message accepted, in bytes (one message carries one or more whole frames);
   * a bigger one closes the connection with 1009. The standard-WebSocket client checks it once a
   * message has arrived (that API buffers it first). Default 64 MiB + 64 KiB.
   */
  maxWsMessageBytes?: number | undefined;
  /**
   * ws server: the memory that messages still arriving may hold, across all the connections of
   * one listener (what ws holds of each: its fragments and the bytes not yet made into frames); a
   * connection whose message would take it over is dropped with a FrameError naming the option,
   * alone (the WebSocket counterpart of the TCP transport's `maxPendingFrameBytes`). At least
   * `maxWsMessageBytes`; default four times it (256 MiB and 256 KiB); `Infinity`: no limit.
   * uWebSockets.js shows no byte of a message before it is whole, and keeps each connection's
   * receive buffer until its close: there it applies only when given, and each upgraded
   * connection reserves `maxWsMessageBytes` of it until its close; an upgrade past it is
   * answered 503.
   */
  maxPendingMessageBytes?: number | undefined;
  /**
   * uWebSockets.js server and standard-WebSocket client (browsers), which cannot stop
   * reading while paused: the most received bytes a paused connection holds; a peer that sends
   * more is dropped with 1013 (Try Again Later). Default `maxWsMessageBytes`.
   */
  maxHeldBytes?: number | undefined;
  /**
   * The most bytes of one WebSocket message: the frames of a run are cut into messages at frame
   * boundaries before one grows past it (a bigger frame goes alone). It only cuts: nothing goes
   * out before the end of the run for it (`batchFrames` does that). Default 1 MiB. Named a cap,
   * not `batchBytes`: the TCP transport's `batchBytes` is a send trigger (a batch goes out once it
   * holds that many), and this option's old name `batchBytes` is refused with InvalidArgument.
   */
  maxBatchBytes?: number | undefined;
  /**
   * A message goes out as soon as it holds this many whole frames, without waiting for the end of
   * the run: a turn that answers a whole window sends its first answers while it computes the rest.
   * Default 128; `Infinity` sends once per run. (The TCP transport's `batchFrames` counts writes,
   * of which a frame is one to three, so its batches hold at most that many frames.)
   */
  batchFrames?: number | undefined;
  /**
   * ws server and client, Bun's standard-WebSocket client: how long a peer this side gave up on
   * (`close()`, a failure, a protocol error) has to answer the close frame before its socket is
   * dropped, as the TCP transport's `lingerMs`. Default 2 000; above 0 and at most 2^31 - 1 (what a
   * timer holds). uWebSockets.js and Deno's WebSocket close on their own terms.
   */
  lingerMs?: number | undefined;
  /** `congested` is true while this many bytes or more are queued or buffered. Default 1 MiB. */
  highWaterMark?: number | undefined;
  /**
   * Server: pings every connection this often; one that has not answered the previous ping is
   * terminated. 0 turns keepalive off. Default 30 000; at most 2^31 - 1 (what a timer holds).
   */
  pingIntervalMs?: number | undefined;
  /**
   * ws server: the most time from accept to a done WebSocket upgrade (the TLS handshake
   * included, which `tls.handshakeTimeoutMs` also bounds on its own); a connection not upgraded
   * by then is closed. It counts against the server's connection cap meanwhile. Default 10 000.
   * uWebSockets.js shows no connection before its upgrade, so this does not apply there. At most
   * 2^31 - 1 (what a timer holds).
   */
  upgradeTimeoutMs?: number | undefined;
  /** Server: decides whether to accept a connection; false refuses it with 401. */
  upgrade?: ((req: UpgradeRequest) => boolean | Promise<boolean>) | undefined;
  /** Client: extra headers on the upgrade request (`ws` client only; browsers cannot set them). null means none. */
  headers?: Record<string, string> | null | undefined;
  /**
   * Client: a standard (browser-style) WebSocket constructor to use instead of `ws`. By default
   * `ws` is used under Node and Deno, and the global WebSocket elsewhere (Bun, browsers).
   */
  WebSocket?: StandardWebSocketCtor | undefined;
  logger?: Logger | undefined;
  /**
   * TLS: `wss://` for the connections this transport makes (a `wss://` address asks for it too)
   * and an HTTPS server for those it accepts. Core's TlsOptions, the same knobs as every
   * transport (docs/tls.md); `alpn` is not used (the WebSocket handshake is HTTP/1.1). The
   * standard WebSocket API of browsers (and Deno's, when given as `WebSocket`) takes no CA,
   * client certificate, server name or `minVersion` (InvalidArgument); Bun's takes them all.
   */
  tls?: TlsOptions | undefined;
}

export interface ResolvedOptions {
  /** Path and query, as a client asks for it. */
  path: string;
  /** Path without the query, as a server routes it. */
  pathname: string;
  maxWsMessageBytes: number;
  maxPendingMessageBytes: number;
  maxHeldBytes: number;
  maxBatchBytes: number;
  batchFrames: number;
  lingerMs: number;
  highWaterMark: number;
  pingIntervalMs: number;
  upgradeTimeoutMs: number;
  upgrade?: (req: UpgradeRequest) => boolean | Promise<boolean>;
  headers?: Record<string, string>;
  WebSocket?: StandardWebSocketCtor;
  logger: Logger;
  tls: TlsOptions | undefined;
}

const MiB = 1024 * 1024;

/** Every knob of WsTransportOptions, by name: what a plain-JS caller may pass (checked complete by the type). */
export const WS_OPTION_NAMES = Object.keys({
  path: true, maxWsMessageBytes: true, maxPendingMessageBytes: true, maxHeldBytes: true, maxBatchBytes: true, batchFrames: true, lingerMs: true,
  highWaterMark: true, pingIntervalMs: true, upgradeTimeoutMs: true, upgrade: true, headers: true, WebSocket: true, logger: true, tls: true,
} satisfies Record<keyof WsTransportOptions, true>);

/** The endpoint's path where the `path` option gives none (and what an address without a path dials). */
export const DEFAULT_PATH = '/skein';

/**
 * The options checked and defaulted. `owner` (`wsTransport`, `uwsTransport`) names the factory in
 * refusals; `extraNames`, its knobs beyond WsTransportOptions'. A Runtime (`wsTransport(nodeRuntime)`,
 * as `tcpTransport(nodeRuntime)` is written), anything but an options object, and an unknown
 * option are InvalidArgument: a plain-JS caller's would otherwise be ignored in silence.
 */
export function resolveOptions(o: WsTransportOptions = {}, owner = 'wsTransport', extraNames: readonly string[] = []): ResolvedOptions {
  if (isRuntime(o)) throw invalidArgument(`${owner} takes options, not a Runtime: it brings its own WebSocket client and server (${owner}({ path, tls, … }); tcpTransport(runtime, options) is the one that takes a runtime)`);
  // Renamed, as it caps a message where the TCP transport's batchBytes triggers a send.
  // (Before the unknown names, which it is one of; after the check that `o` is an object, as null is not.)
  if (typeof o === 'object' && o !== null) refuseRenamed(o, 'batchBytes', 'maxBatchBytes', 'transport-ws');
  refuseUnknownOptions(o, [...WS_OPTION_NAMES, ...extraNames], owner);
  const path = o.path ?? DEFAULT_PATH;
  if (!path.startsWith('/') || path.includes('#')) throw invalidArgument(`path must be a URL path like "/skein", got ${JSON.stringify(path)}`);
  const maxWsMessageBytes = positive('maxWsMessageBytes', o.maxWsMessageBytes ?? 64 * MiB + 64 * 1024);
  return {
    path,
    pathname: pathnameOf(path),
    maxWsMessageBytes,
    maxPendingMessageBytes: pendingBudget(o.maxPendingMessageBytes ?? 4 * maxWsMessageBytes, maxWsMessageBytes),
    maxHeldBytes: positive('maxHeldBytes', o.maxHeldBytes ?? maxWsMessageBytes),
    maxBatchBytes: positive('maxBatchBytes', o.maxBatchBytes ?? MiB),
    batchFrames: o.batchFrames === Infinity ? Infinity : positive('batchFrames', o.batchFrames ?? 128),
    lingerMs: lingerMs(o.lingerMs ?? CLOSE_LINGER_MS),
    highWaterMark: positive('highWaterMark', o.highWaterMark ?? MiB),
    pingIntervalMs: o.pingIntervalMs === 0 ? 0 : timerMs('pingIntervalMs', o.pingIntervalMs ?? 30_000),
    upgradeTimeoutMs: timerMs('upgradeTimeoutMs', o.upgradeTimeoutMs ?? 10_000),
    upgrade: o.upgrade,
    // null means none on every client (the standard one would read its keys).
    headers: o.headers ?? undefined,
    WebSocket: o.WebSocket,
    // Its lines come on the way to closes (a refused upgrade): one it cannot write must not stop those.
    logger: guardedLogger(o.logger ?? silentLogger),
    tls: o.tls,
  };
}

function positive(name: string, n: number): number {
  if (!Number.isSafeInteger(n) || n <= 0) throw invalidArgument(`${name} must be a positive integer, got ${n}`);
  return n;
}

/** A listener's budget of messages still arriving: room for one message of the largest size at least, or Infinity. */
function pendingBudget(n: number, maxWsMessageBytes: number): number {
  if (n !== Infinity) positive('maxPendingMessageBytes', n);
  if (n < maxWsMessageBytes) throw invalidArgument(`maxPendingMessageBytes must be at least maxWsMessageBytes (${maxWsMessageBytes}), got ${n}: no message that large could arrive`);
  return n;
}

/** A timer's period or delay in ms, refused past what a timer holds (as the stream's own timer options are). */
function timerMs(name: string, n: number): number {
  if (positive(name, n) > MAX_TIMER_MS) throw invalidArgument(`${name} must be at most ${MAX_TIMER_MS} ms (what a timer holds), got ${n}`);
  return n;
}

/** Checked, and said, as the TCP transport's `lingerMs` is: fractions are fine, past what a timer holds is not. */
function lingerMs(n: number): number {
  if (!(n > 0 && n <= MAX_TIMER_MS)) throw invalidArgument(`lingerMs ${n} is not a positive duration of at most ${MAX_TIMER_MS} ms`);
  return n;
}

/** The path part of a request target (`/a/b?x=1` → `/a/b`). */
export function pathnameOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
