import { invalidArgument, type Address, type Clock, type Logger, type Transport } from '@skein/core';
import { nonNegative, positive, positiveInteger, timerMs } from '../internals/checks.js';
import { resolveLimits, type Limits } from '../wire/limits.js';

export interface ClientStreamOptions {
  transport: Transport;
  /** `host:port`, `unix:/path` or an Address. */
  address: string | Address;
  /** Calls in flight at once. Default 128. */
  window?: number;
  /** Calls allowed to wait for the window; past it a call fails with Overloaded. Default 65 536. */
  maxQueued?: number;
  /**
   * Default per-call timeout. Default 20 s. A call fails within max(10 %, 50 ms) after its
   * timeout, never before: timeouts are checked in batches, on a ticker whose period follows the
   * shortest timeout pending (from `tickMs` down to 25 ms), not with a timer per call.
   */
  timeoutMs?: number;
  /** How long the transport may take to connect. Default: the transport's (10 s for TCP and WebSocket). */
  connectTimeoutMs?: number;
  /** Ping when nothing was received for this long. Default 1 s; 0 disables keepalive. */
  keepaliveMs?: number;
  /** A ping unanswered for this long declares the peer dead. Default 5 s. */
  keepaliveTimeoutMs?: number;
  /**
   * The coarsest period of the timeout and keepalive checks, in ms (1 ms to 2^31 - 1). Default
   * 1 s: fine enough for timeouts of 20 s and more; shorter ones make the checks run more often
   * while they are pending.
   */
  tickMs?: number;
  limits?: Partial<Limits>;
  logger?: Logger;
  clock?: Clock;
  /**
   * Called once, synchronously, when the stream reaches 'closed' (however it got there), before
   * its unsettled calls are failed: a pool uses it to stop routing to the stream before those
   * calls are retried elsewhere.
   */
  onClose?: (err: Error | undefined) => void;
}

/** A ClientStream's settings with defaults filled in, all checked. */
export interface StreamSettings {
  window: number;
  maxQueued: number;
  timeoutMs: number;
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
  tickMs: number;
  limits: Limits;
}

/**
 * Checks a stream's options and fills in defaults. Runs before connecting, so a bad option
 * leaves no connection open; a pool runs it when built, since a bad option would fail every
 * reconnect. `prefix` names where the options sit in the caller's own (`stream.`).
 */
export function resolveStreamOptions(opts: Partial<ClientStreamOptions>, prefix = ''): StreamSettings {
  if (opts.connectTimeoutMs !== undefined) positive(opts.connectTimeoutMs, `${prefix}connectTimeoutMs`);
  if (opts.onClose !== undefined && typeof opts.onClose !== 'function') throw invalidArgument(`${prefix}onClose must be a function`);
  return {
    window: positiveInteger(opts.window ?? 128, `${prefix}window`),
    maxQueued: positiveInteger(opts.maxQueued ?? 65_536, `${prefix}maxQueued`),
    timeoutMs: positive(opts.timeoutMs ?? 20_000, `${prefix}timeoutMs`),
    keepaliveMs: nonNegative(opts.keepaliveMs ?? 1000, `${prefix}keepaliveMs`),
    keepaliveTimeoutMs: positive(opts.keepaliveTimeoutMs ?? 5000, `${prefix}keepaliveTimeoutMs`),
    tickMs: timerMs(opts.tickMs ?? 1000, `${prefix}tickMs`),
    limits: resolveLimits(opts.limits),
  };
}
