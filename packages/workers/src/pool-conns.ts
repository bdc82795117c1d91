import type { Logger } from '@skein/core';
import { callerTimeoutMs, type Caller, type ConnInfo } from '@skein/stream';
import type { QueuedConn } from './input-queue.js';
import type { ConnDesc } from './messages.js';
import type { WorkerSlot } from './worker-slot.js';

/** What the pool's book of connections needs of the pool. */
export interface ConnsLink {
  /** The workers: each that knows a connection is told when it begins to drain and when it closes. */
  readonly slots: readonly WorkerSlot[];
  readonly logger: Logger;
  /** A connection the pool now knows, by its key, with its caller if it agreed calls both ways. */
  opened(key: number, caller: Caller | undefined): void;
  /** It closed, before the workers that know it are told: its queued calls and its caller go. */
  closed(key: number): void;
}

/**
 * The connections the pool has seen: its own number for each (a connection's id is unique per
 * server only, and one pool may serve several servers), what a worker is sent to know one, and
 * what the workers that know one are told when it drains or closes. Out of the pool because
 * only a connection's first call and its description to a worker come here; per call the pool
 * reads `records` itself.
 */
export class PoolConns {
  /** The pool's record of each connection it has seen (its number, its calls queued), with listeners on its draining and its close. */
  readonly records = new WeakMap<ConnInfo, QueuedConn>();
  /**
   * The connections that had a caller at their first call, whose caller the link keeps: what a
   * worker is told of them. Not `conn.caller` read when a later call is sent: on a server that
   * authenticates it is undefined while the grant has run out, and a worker keeps what its first
   * description said for the connection's life (its handlers' `ctx.caller` would stay undefined
   * once the grant is renewed). With that caller's default timeout, read once.
   */
  private readonly callsBack = new WeakMap<ConnInfo, number | undefined>();
  private nextKey = 1;

  constructor(private readonly link: ConnsLink) {}

  /**
   * A connection's first call: it gets a key, and its workers will hear of its draining and close.
   * Undefined for a connection closed already: nobody reads its answers.
   */
  watch(conn: ConnInfo): QueuedConn | undefined {
    if (conn.signal.aborted) return undefined;
    const key = this.nextKey++;
    const record: QueuedConn = { key, queued: 0 };
    this.records.set(conn, record);
    const caller = conn.caller;
    if (caller !== undefined) this.callsBack.set(conn, callerTimeoutMs(caller));
    this.link.opened(key, caller);
    const { slots } = this.link;
    // The workers that know the connection are told when its server begins to close (ConnInfo.draining); those told of it later, by its description.
    const draining = conn.draining;
    const onDraining = (): void => {
      for (const s of slots) if (s.conns.has(key) && s.state !== 'exited') s.tell({ t: 'draining', key });
    };
    if (!draining.aborted) draining.addEventListener('abort', onDraining, { once: true });
    conn.signal.addEventListener(
      'abort',
      () => {
        draining.removeEventListener('abort', onDraining);
        this.link.closed(key);
        for (const s of slots) if (s.conns.delete(key) && s.state !== 'exited') s.tell({ t: 'closed', key });
      },
      { once: true },
    );
    return record;
  }

  /** A connection for a worker. A principal that cannot cross to a thread (a function, a socket) stays behind. */
  describe(key: number, conn: ConnInfo, principal: unknown, replyMetadataRoom: number): ConnDesc {
    const desc: { -readonly [K in keyof ConnDesc]: ConnDesc[K] } = { key, id: conn.id, remote: conn.remote, transport: conn.transport, identity: conn.identity, kind: conn.kind };
    if (replyMetadataRoom > 0) desc.replyMetadataRoom = replyMetadataRoom;
    if (this.callsBack.has(conn)) {
      desc.callsBack = true;
      const timeoutMs = this.callsBack.get(conn);
      if (timeoutMs !== undefined) desc.callerTimeoutMs = timeoutMs;
    }
    if (conn.draining.aborted) desc.draining = true;
    if (principal === undefined) return desc;
    try {
      structuredClone(principal);
      return { ...desc, principal };
    } catch (err) {
      this.link.logger.warn({ conn: conn.id, err }, `connection ${conn.id}: its principal cannot be sent to a worker thread; handlers there see none`);
      return desc;
    }
  }
}
