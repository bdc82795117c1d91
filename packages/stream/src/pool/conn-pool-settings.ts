import { invalidArgument, refuseRenamed, type Clock } from '@skein/core';
import { nonNegative, positive, positiveInteger } from '../internals/checks.js';
import { resolveStreamOptions, type StreamSettings } from '../client/options.js';
import { backoffOptions, type BackoffOptions } from './backoff.js';
import { poolTiming, type ConnPoolOptions } from './conn-pool-options.js';

/** A ConnPool's options, checked, with the defaults filled in. */
export interface ConnPoolSettings {
  stream: StreamSettings;
  maxConnections: number;
  idleTimeoutMs: number;
  /** Infinity: connections are never retired for their age. */
  maxAgeMs: number;
  connectBudgetMs: number;
  transparentRetries: number;
  maxQueued: number;
  backoff: BackoffOptions;
  clock: Clock;
  tickMs: number;
}

/**
 * Checks a ConnPool's options (InvalidArgument naming the bad one) and fills in defaults. Run
 * when a pool is built, and by a FailoverPool when it is built (`prefix` `pool.`): its servers'
 * pools are made at their first calls, and a bad option refused only there would fail every call.
 */
export function connPoolSettings(opts: Omit<ConnPoolOptions, 'transport' | 'address'>, prefix = ''): ConnPoolSettings {
  if (opts.onStateChange !== undefined && typeof opts.onStateChange !== 'function') throw invalidArgument(`${prefix}onStateChange must be a function`);
  // Checked now as well as by each connect: a bad stream option would fail every reconnect forever.
  const stream = resolveStreamOptions(opts.stream ?? {}, `${prefix}stream.`);
  refuseRenamed(opts, 'idleMs', 'idleTimeoutMs', 'ConnPool', prefix);
  const transparentRetries = opts.transparentRetries ?? 1;
  if (!(Number.isInteger(transparentRetries) && transparentRetries >= 0)) {
    throw invalidArgument(`${prefix}transparentRetries must be a non-negative integer, got ${transparentRetries}`);
  }
  return {
    stream,
    maxConnections: positiveInteger(opts.maxConnections ?? 4, `${prefix}maxConnections`),
    idleTimeoutMs: nonNegative(opts.idleTimeoutMs ?? 30_000, `${prefix}idleTimeoutMs`),
    maxAgeMs: opts.maxConnectionAgeMs === undefined ? Infinity : positive(opts.maxConnectionAgeMs, `${prefix}maxConnectionAgeMs`),
    connectBudgetMs: positive(opts.connectBudgetMs ?? 10_000, `${prefix}connectBudgetMs`),
    transparentRetries,
    maxQueued: positiveInteger(opts.maxQueued ?? 10_000, `${prefix}maxQueued`),
    backoff: backoffOptions(opts.backoff, prefix),
    ...poolTiming(opts, stream.tickMs, prefix),
  };
}
