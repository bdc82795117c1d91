import { invalidArgument, silentLogger, systemClock, type Clock, type Logger } from '@skein/core';
import { positiveInteger } from '../internals/checks.js';
import { resolveLimits, type Limits } from '../wire/limits.js';
import type { Dispatch } from './dispatch.js';

export interface RpcServerOptions {
  dispatch: Dispatch;
  logger?: Logger;
  limits?: Partial<Limits>;
  /**
   * Connections open at once, over all listeners. A connection past it is closed as soon as it
   * is accepted, before anything is read from it (one warn line per run of refusals). Default
   * 10 000; `Infinity` for no cap.
   */
  maxConnections?: number;
  /** Requests handled at once per connection; past it the server stops reading that socket. Default 1024. */
  maxInFlightPerConn?: number;
  /** A connection that makes no call for this long is closed (pings and the hello do not count). Default 120 s; 0 disables. */
  idleTimeoutMs?: number;
  /** How long `close()` lets in-flight requests finish before cutting connections. Default 90 s; 0 cuts at once. */
  closeWaitMs?: number;
  clock?: Clock;
  /** How often idle connections are looked for. Default 1 s. */
  tickMs?: number;
}

/** An RpcServer's settings with defaults filled in, all checked. */
export interface ServerSettings {
  readonly dispatch: Dispatch;
  readonly logger: Logger;
  readonly limits: Limits;
  readonly clock: Clock;
  readonly maxConnections: number;
  readonly maxInFlightPerConn: number;
  readonly idleTimeoutMs: number;
  readonly closeWaitMs: number;
  readonly tickMs: number;
}

/** The longest delay a timer takes: a longer one fires at once on every runtime. */
const MAX_TIMER_MS = 0x7fff_ffff;

/** Checks a server's options (a bad one throws InvalidArgument naming it) and fills in defaults. */
export function resolveServerOptions(opts: RpcServerOptions): ServerSettings {
  if (!opts || typeof opts.dispatch?.dispatch !== 'function') throw invalidArgument('RpcServer needs a dispatch');
  const maxConnections = opts.maxConnections ?? 10_000;
  if (maxConnections !== Infinity) positiveInteger(maxConnections, 'maxConnections');
  return {
    dispatch: opts.dispatch,
    logger: opts.logger ?? silentLogger,
    limits: resolveLimits(opts.limits),
    clock: opts.clock ?? systemClock,
    maxConnections,
    maxInFlightPerConn: positiveInteger(opts.maxInFlightPerConn ?? 1024, 'maxInFlightPerConn'),
    idleTimeoutMs: duration(opts.idleTimeoutMs ?? 120_000, 'idleTimeoutMs', 0),
    closeWaitMs: duration(opts.closeWaitMs ?? 90_000, 'closeWaitMs', 0),
    tickMs: duration(opts.tickMs ?? 1000, 'tickMs', 1),
  };
}

/** Milliseconds from `min` up to what a timer can wait. */
function duration(ms: number, name: string, min: number): number {
  if (!(typeof ms === 'number' && ms >= min && ms <= MAX_TIMER_MS)) {
    throw invalidArgument(`${name} must be a number of milliseconds from ${min} to ${MAX_TIMER_MS}, got ${ms}`);
  }
  return ms;
}
