import type { ClientStreamOptions } from './client-stream.js';
import { positive } from './checks.js';
import { resolveLimits, type Limits } from './limits.js';

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
