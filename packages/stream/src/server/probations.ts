import type { Clock } from '@skein/core';
import { Alarm } from '../internals/alarm.js';

/**
 * The connections on probation (conn-census.ts: past the clients' cap, in a peer's place, until
 * their certificate at the hello or their credentials say what they are), each with the alarm
 * that ends its wait. Kept here rather than on each connection: only connections on probation
 * pay for one, and it bounds them the same way whatever they wait for.
 */
export class Probations<C extends object> {
  /** In the order they began (a Map keeps insertion order): the first is the one that waited longest. */
  private readonly alarms = new Map<C, Alarm>();

  constructor(
    private readonly clock: Clock,
    /** How long a probation may last: twice `authTimeoutMs` (time to present, and the hook's own to judge). */
    private readonly ms: number,
  ) {}

  /** `conn` went on probation: `over` runs once it has lasted `ms`, unless `end` came first. */
  begin(conn: C, over: () => void): void {
    const alarm = new Alarm(this.clock);
    this.alarms.set(conn, alarm);
    alarm.set(this.clock.now() + this.ms, () => {
      this.alarms.delete(conn);
      over();
    });
  }

  /** `conn` left probation (it became a peer) or closed: its alarm is stopped. */
  end(conn: C): void {
    const alarm = this.alarms.get(conn);
    if (alarm === undefined) return;
    alarm.stop();
    this.alarms.delete(conn);
  }

  /**
   * The connection that has waited longest without showing it is a peer (of those `where` takes,
   * when given: one address's, a walk in the order they began); undefined when none waits.
   */
  oldest(where?: (conn: C) => boolean): C | undefined {
    for (const conn of this.alarms.keys()) if (where === undefined || where(conn)) return conn;
    return undefined;
  }
}
