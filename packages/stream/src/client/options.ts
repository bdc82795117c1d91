import type { Address, Clock, Logger, Transport } from '@skein/core';
import { positive } from '../internals/checks.js';
import { resolveLimits, type Limits } from '../wire/limits.js';

export interface ClientStreamOptions {
  transport: Transport;
  /** `host:port`, `unix:/path` or an Address. */
  address: string | Address;
  /** Calls in flight at once. Default 128. */
  window?: number;
  /** Calls allowed to wait for the window; past it a call fails with Overloaded. Default 65 536. */
  maxQueued?: number;
  /** Default per-call timeout. Default 20 s. Checked once per `tickMs`, so a call fails between its timeout and two ticks after it. */
  timeoutMs?: number;
  /** How long the transport may take to connect. Default: the transport's (10 s for TCP and WebSocket). */
  connectTimeoutMs?: number;
  /** Ping when nothing was received for this long. Default 1 s; 0 disables keepalive. */
  keepaliveMs?: number;
  /** A ping unanswered for this long declares the peer dead. Default 5 s. */
  keepaliveTimeoutMs?: number;
  /** Width of the timeout check. Default 1 s. */
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
  return {
    window: positive(opts.window ?? 128, `${prefix}window`),
    maxQueued: positive(opts.maxQueued ?? 65_536, `${prefix}maxQueued`),
    timeoutMs: positive(opts.timeoutMs ?? 20_000, `${prefix}timeoutMs`),
    keepaliveMs: opts.keepaliveMs ?? 1000,
    keepaliveTimeoutMs: opts.keepaliveTimeoutMs ?? 5000,
    tickMs: positive(opts.tickMs ?? 1000, `${prefix}tickMs`),
    limits: resolveLimits(opts.limits),
  };
}
