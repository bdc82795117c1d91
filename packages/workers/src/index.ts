/**
 * @skein/workers: a Dispatch that runs handlers on a pool of worker threads, so one process
 * uses every core. The handlers are the same `implement(...)` services an in-process server
 * takes, loaded by each worker from a module path.
 *
 * - `WorkerPool` (worker-pool.ts): the Dispatch. One bounded input queue on the server's thread,
 *   batches out to the workers (worker-slot.ts, one per thread), batches of answers back; its
 *   stats (pool-stats.ts) and options (pool-options.ts). Beside it, what no call's path touches:
 *   a full queue's pruning and refusals (queue-bound.ts), the connections it has seen and what
 *   their workers are told of them (pool-conns.ts), the cancels of held calls told to their
 *   workers (held-cancels.ts), values that cannot cross threads (cannot-cross.ts), what becomes
 *   of a dead worker's calls (held-at-exit.ts), and a graceful close's last word (closing-flush.ts).
 * - request-batch.ts / reply-batch.ts: how a batch's bytes travel (one transferred buffer each
 *   way), action-table.ts: string actions as numbers, messages.ts: what pool and workers say to
 *   each other, input-queue.ts: the input queue (each call beside its connection, counted for a full
 *   queue's fair shares), describe-error.ts: an error in words for a log line or
 *   a message to the other thread.
 * - worker-main.ts: the entry every worker runs; worker-module.ts: what a handler module exports;
 *   worker-conn.ts: a connection as a worker sees it; worker-request.ts: a call that came with a
 *   head (deadline, metadata, its own signal, which the pool's cancel aborts);
 *   plain-metadata-request.ts: a plain call with the metadata a dispatch in front of the pool gave
 *   it (a traced dispatch's trace context); shared-now.ts: the time line the remaining time is
 *   counted on across threads.
 * - Stalls (`stallTimeoutMs`): messages-taken.ts is the count a worker keeps of the messages it
 *   took off its port, in shared memory, and the number of the last batch of calls it took (the
 *   calls of later ones never ran when it is ended: they go to another worker); stall-watch.ts the
 *   pool's coarse timer that ends a worker holding calls that leaves one unread too long (blocked
 *   or deaf).
 * - Calls both ways (`ctx.caller` in a worker): worker-caller.ts is that Caller, reverse-outbox.ts
 *   the worker's side (a turn's calls out as one message, their answers back), reverse-call-batch.ts
 *   how their bytes travel, reverse-relay.ts the pool's side (each call run on the connection's
 *   own caller, the outcomes back per worker per turn).
 */

// ── On the server's thread: the pool, given to an RpcServer as its dispatch
export { WorkerPool } from './worker-pool.js';
export type { WorkerPoolState, WorkerPoolStats } from './pool-stats.js';
export type { WorkerPoolOptions, WhenFull } from './pool-options.js';
// ── In the module every worker loads: its handlers
export { workerModule } from './worker-module.js';
export type { WorkerModule } from './worker-module.js';
