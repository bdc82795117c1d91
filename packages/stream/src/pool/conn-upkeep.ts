import { carried, type Slot } from './pool-slot.js';

/** What a pool's upkeep needs of it. */
export interface UpkeepLink {
  /** The connections calls are sent to; `retire` takes one out. */
  readonly active: readonly Slot[];
  /** Stops sending to a connection and closes it once its calls are done. */
  retire(slot: Slot): void;
}

/*
 * A pool's upkeep of its connections, on its tick: the extra ones left idle close, the old ones
 * are replaced. Functions of the pool, not an object of their own: nothing here is kept between
 * ticks but the slots' own fields, and no call's path comes here (a call sets a slot's `used`
 * flag, which the tick turns into a time).
 */

/** Closes extra connections that carried nothing for `idleTimeoutMs` (0: never); the most recently used stays. */
export function reapIdle(pool: UpkeepLink, now: number, idleTimeoutMs: number): void {
  const active = pool.active;
  for (const slot of active) {
    if (!slot.used) continue;
    slot.used = false;
    slot.lastUsed = now;
  }
  if (active.length <= 1 || idleTimeoutMs === 0) return;
  const byUse = [...active].sort((a, b) => a.lastUsed - b.lastUsed);
  for (const slot of byUse) {
    if (active.length <= 1) break;
    const s = slot.stream!;
    if (carried(s) === 0 && s.queued === 0 && now - slot.lastUsed >= idleTimeoutMs) pool.retire(slot);
  }
}

/**
 * Retires connections over their age; the last one only once a fresh one is up (make before
 * break: it is marked `expired` meanwhile). True when one is so kept, waiting for a fresh one.
 */
export function retireOld(pool: UpkeepLink, now: number): boolean {
  const active = pool.active;
  for (const slot of [...active]) {
    if (slot.expired || now - slot.openedAt < slot.maxAge) continue;
    if (active.some((s) => s !== slot && !s.expired)) pool.retire(slot);
    else slot.expired = true;
  }
  return active.some((s) => s.expired);
}
