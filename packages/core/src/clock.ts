import type { Clock, Ticker } from './runtime.js';

declare const Deno: { unrefTimer(id: number): void } | undefined;

/**
 * A Clock on the timers every runtime has. Node, Bun and Deno 2 return timer objects with
 * `unref`; older Deno returned a number, unreffed through `Deno.unrefTimer`.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  every(ms: number, tick: () => void): Ticker {
    const id = setInterval(tick, ms) as unknown as { unref?: () => void } | number;
    if (typeof id === 'number') {
      if (typeof Deno !== 'undefined') Deno.unrefTimer(id);
    } else {
      id.unref?.();
    }
    return { stop: () => clearInterval(id as Parameters<typeof clearInterval>[0]) };
  },
};
