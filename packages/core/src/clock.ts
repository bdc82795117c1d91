import type { Clock, Ticker } from './runtime.js';
import { timerPeriod } from './timer-limit.js';

declare const Deno: { refTimer(id: number): void; unrefTimer(id: number): void } | undefined;

type TimerId = { ref?: () => void; unref?: () => void } | number;

/**
 * A Clock on the timers every runtime has. Node, Bun and Deno 2 return timer objects with
 * `ref`/`unref`; older Deno returned a number, (un)reffed through `Deno.refTimer`/`unrefTimer`.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  every(ms: number, tick: () => void): Ticker {
    const id = setInterval(tick, timerPeriod(ms)) as unknown as TimerId;
    hold(id, false);
    return {
      stop: () => clearInterval(id as Parameters<typeof clearInterval>[0]),
      ref: () => hold(id, true),
      unref: () => hold(id, false),
    };
  },
};

function hold(id: TimerId, on: boolean): void {
  if (typeof id !== 'number') {
    if (on) id.ref?.();
    else id.unref?.();
  } else if (typeof Deno !== 'undefined') {
    if (on) Deno.refTimer(id);
    else Deno.unrefTimer(id);
  }
}
