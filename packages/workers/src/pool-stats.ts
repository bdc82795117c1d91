/** Where a pool is in its life: it takes calls only while `running`. */
export type WorkerPoolState = 'starting' | 'running' | 'closing' | 'closed';

/** What `WorkerPool.stats()` counts: a snapshot, made when asked. */
export interface WorkerPoolStats {
  state: WorkerPoolState;
  /** Workers ready for calls. */
  workers: number;
  /** Requests waiting for a worker. */
  queued: number;
  /** Requests the workers hold. */
  inFlight: number;
  /** Workers that died unasked, or that the pool ended for a fault (a broken channel, a stall: `stallTimeoutMs`); each was replaced unless the pool was closing. */
  crashes: number;
  /** Calls answered Overloaded (unrun) because the queue was full (`maxQueued`, `whenFull`). */
  overloaded: number;
}
