import { ErrorCode, MAX_TIMER_MS, RpcError, invalidArgument, type Logger } from '@skein/core';
import type { Filter } from './filters.js';

/** Logs each call — method, peer or route, duration, outcome — at debug level. Works on both sides. */
export function callLog(logger: Logger): Filter {
  return {
    name: 'call-log',
    after(info, outcome) {
      logger.debug(
        {
          side: info.side,
          action: info.action,
          peer: info.peer,
          route: info.route,
          durationMs: Math.round((performance.now() - info.startedAt) * 1000) / 1000,
          outcome: outcome.ok ? 'ok' : errorName(outcome.error),
        },
        'rpc call',
      );
    },
  };
}

function errorName(e: unknown): string {
  if (e instanceof RpcError) return e.codeName;
  return e instanceof Error ? e.name : 'error';
}

export interface OverloadOptions {
  /** Refuse new calls while the event loop is this late. Default 70 ms. */
  maxLagMs?: number | undefined;
  /** How often the loop's lateness is sampled. Default 10 ms. */
  sampleMs?: number | undefined;
}

/** A server filter with a `stop()` for its sampling timer. */
export interface OverloadShedding extends Filter {
  /** The event-loop lag as last measured, in ms. */
  readonly lagMs: number;
  stop(): void;
}

/**
 * Server-side load shedding (pomelo's toobusy): while the event loop runs late, new calls are
 * refused at once with Overloaded — the client may retry them elsewhere, they never ran —
 * instead of queueing until they time out. Lateness is a timer's delay, and also how long ago the
 * timer last managed to run: requests parsed in one long synchronous burst (a blocked loop) see
 * the loop as late before the timer can fire again.
 */
export function overloadShedding(opts: OverloadOptions = {}): OverloadShedding {
  const maxLag = opts.maxLagMs ?? 70;
  const every = opts.sampleMs ?? 10;
  // A negative limit refused every call; NaN, or a period no timer holds (fired every 1 ms, its
  // lateness read as none), turned shedding off without a word.
  if (!(typeof maxLag === 'number' && maxLag >= 0 && maxLag < Infinity)) throw invalidArgument(`overloadShedding: maxLagMs must be a number of ms of 0 or more, got ${maxLag}`);
  if (!(typeof every === 'number' && every >= 1 && every <= MAX_TIMER_MS)) throw invalidArgument(`overloadShedding: sampleMs must be a number of ms in 1..${MAX_TIMER_MS}, got ${every}`);
  let lag = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lag = Math.max(0, now - last - every);
    last = now;
  }, every);
  (timer as { unref?: () => void }).unref?.();
  const currentLag = (): number => Math.max(lag, performance.now() - last - every);
  return {
    name: 'overload-shedding',
    get lagMs() {
      return currentLag();
    },
    before(info) {
      const late = currentLag();
      if (late > maxLag) {
        throw new RpcError(ErrorCode.Overloaded, `${info.action} refused: event loop ${Math.round(late)} ms late (limit ${maxLag} ms)`);
      }
    },
    stop: () => clearInterval(timer),
  };
}
