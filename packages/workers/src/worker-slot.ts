import { Worker } from 'node:worker_threads';
import type { ConnKind, ServerRequest } from '@skein/stream';
import { describeError } from './describe-error.js';
import type { CallsMessage, FromWorker, HandlerEndsMessage, RepliesMessage, ReverseCallsMessage, ToWorker, UnsentRepliesMessage, WorkerData } from './messages.js';
import { batchAfter, newMessagesTaken, nextBatch, readTaken, sealBatches, takenCounter } from './messages-taken.js';
import { newPortClosedFlag, portWasClosed } from './port-closed-flag.js';
import type { PoolSettings } from './pool-options.js';

/** What a slot tells its pool. Nothing is reported once the worker has exited. */
export interface SlotEvents {
  ready(slot: WorkerSlot): void;
  replies(m: RepliesMessage): void;
  /** Handlers that run on past their answers, and ends of such handlers (sent before the answers). */
  handlers(slot: WorkerSlot, m: HandlerEndsMessage): void;
  /** Answers the worker could not send back (their handlers ran). */
  unsent(slot: WorkerSlot, m: UnsentRepliesMessage): void;
  /** Calls its handlers made through `ctx.caller`, for the pool to send on their connections. */
  reverse(slot: WorkerSlot, m: ReverseCallsMessage): void;
  /** A callback its handlers gave `ctx.caller.send` threw (the worker went on). */
  callbackThrew(slot: WorkerSlot, message: string): void;
  /** Its dispatch heard a `closing` message (`threw`: its `serverClosed` threw that). */
  flushed(slot: WorkerSlot, threw: string | undefined): void;
  /** The worker is gone: crashed, exited by itself, failed to load, or was terminated. */
  exited(slot: WorkerSlot, why: string): void;
}

/** `ending`: being ended for a fault (its channel broke, its module did not load); it takes no more calls. */
export type SlotState = 'starting' | 'ready' | 'ending' | 'exited';

/** What a worker was last told about a connection: it is told again when either changes. */
export interface ConnSeen {
  readonly principal: unknown;
  readonly kind: ConnKind | undefined;
}

/**
 * One worker thread and what the pool keeps about it: how many calls it holds, and which
 * connections it has been told of.
 */
export class WorkerSlot {
  state: SlotState = 'starting';
  /** Calls sent to the worker and not yet answered. */
  inFlight = 0;
  /**
   * Connections the worker knows, with what it was sent for each: a connection is described
   * again only when its principal or kind changes, and its close is told.
   */
  readonly conns = new Map<number, ConnSeen>(); // by the pool's connection key
  /**
   * Requests whose handlers run on in the worker past their answers, and which their servers
   * count (abandoned-on-workers.ts), by the worker's token: told ended when the worker says, or
   * when it exits.
   */
  readonly runningOn = new Map<number, ServerRequest>();
  /** Set by the pool when it ends the worker on purpose: the exit is then no crash. */
  retiring = false;
  /** How much of the pool's action table the worker has been sent. */
  actionsKnown = 0;
  /** The worker loaded its module once: a replacement that never does is not replaced again. */
  wasReady = false;
  /** The worker sent answers: one that dies before it answers any is replaced later each time (respawn-backoff.ts). */
  answered = false;
  /** Messages posted to the worker (int32, wrapping), against its count of those it took (see messages-taken.ts). */
  posted = 0;
  /** The number of the last batch of calls posted to the worker (see messages-taken.ts). */
  private batches = 0;
  /** The number of the last batch the worker took, read as it exited. */
  private lastTaken = 0;
  private readonly worker: Worker;
  /** Set by the worker when its port closed (see port-closed-flag.ts): read at its exit. */
  private readonly portClosed = newPortClosedFlag();
  /** Counted up by the worker per message it takes off its port; read by the pool's StallWatch. */
  private readonly taken = newMessagesTaken();
  private readonly takenView = takenCounter(this.taken);
  private failure: string | undefined;
  /** Ends a worker whose module has not loaded in `loadTimeoutMs`; cleared once it is ready or gone. */
  private loadTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly index: number,
    entry: URL,
    settings: Pick<PoolSettings, 'module' | 'execArgv' | 'resourceLimits' | 'loadTimeoutMs'>,
    private readonly events: SlotEvents,
  ) {
    const { module, execArgv, resourceLimits, loadTimeoutMs } = settings;
    const workerData: WorkerData = { module, portClosed: this.portClosed, taken: this.taken };
    this.worker = new Worker(entry, { workerData, ...(execArgv ? { execArgv } : {}), ...(resourceLimits ? { resourceLimits } : {}) });
    this.worker.on('message', (m: FromWorker) => this.receive(m));
    this.worker.on('error', (err) => (this.failure ??= `threw ${describeError(err)}`));
    this.worker.on('messageerror', (err) => this.end(`sent the pool a message it could not read (${describeError(err)})`));
    this.worker.on('exit', (code) => this.exit(code));
    if (loadTimeoutMs > 0) this.watchLoad(loadTimeoutMs);
  }

  /**
   * A module that never finishes loading (a top-level loop, a top-level await that never settles)
   * would leave `start`, or the calls waiting for a replacement, waiting for good: it is ended at
   * fault (`terminate` stops a thread in a loop), as a module that fails to load is.
   */
  private watchLoad(ms: number): void {
    this.loadTimer = setTimeout(() => {
      if (this.state === 'starting') this.end(`did not load its module within ${ms} ms`);
    }, ms);
    // The worker keeps the process alive while it starts; this timer never should.
    this.loadTimer.unref();
  }

  /** Counted as held once posted: a batch that cannot be posted (postMessage throws) leaves nothing counted. */
  post(m: CallsMessage): void {
    this.worker.postMessage(m, m.heads === undefined ? [m.buf] : [m.buf, m.heads.numbers.buffer as ArrayBuffer]);
    this.inFlight += m.n;
    this.posted = (this.posted + 1) | 0;
    this.batches = m.seq;
  }

  /** The number for the next batch of calls posted to the worker. */
  nextBatch(): number {
    return nextBatch(this.batches);
  }

  /**
   * Once the worker has exited: the batch numbered `seq` never reached its dispatch, so none of
   * its calls ran (and none can: see `exit`).
   */
  neverTook(seq: number): boolean {
    return batchAfter(seq, this.lastTaken);
  }

  tell(m: ToWorker, transfer?: ArrayBuffer[]): void {
    this.worker.postMessage(m, transfer);
    this.posted = (this.posted + 1) | 0;
  }

  /** How many of the messages posted to it the worker has taken off its port (int32, wrapping). */
  messagesTaken(): number {
    return readTaken(this.takenView);
  }

  /** Something for a worker that has read everything to read: its count moves if it still reads. */
  ping(): void {
    this.tell({ t: 'ping' });
  }

  /**
   * The worker left a message unread for `boundMs` while holding calls (see stall-watch.ts): its
   * thread is blocked or deaf. Ended at fault, as a broken channel is (`terminate` stops a thread
   * in a loop), so that the calls it holds fail and it is replaced.
   */
  stalled(boundMs: number): void {
    this.end(`made no progress for ${boundMs} ms`);
  }

  /**
   * Ends the worker now, on purpose; `exited` follows, with `why` (the calls it holds fail saying
   * it: its exit code, 1 for any thread ended so, would say nothing true).
   */
  terminate(why: string): void {
    this.retiring = true;
    this.failure ??= why;
    void this.worker.terminate();
  }

  /**
   * A message the pool cannot apply (one of its kinds, but not as the pool made it: a handler
   * posting on the pool's port) ends this worker, not the process, as an unreadable one does.
   */
  private receive(m: FromWorker): void {
    if (this.state === 'exited') return;
    try {
      this.apply(m);
    } catch (err) {
      this.end(`sent the pool a message it could not apply (${describeError(err)})`);
    }
  }

  private apply(m: FromWorker): void {
    // The worker's port is the pool's, but a handler (or a library it uses) may post there too.
    if (typeof m !== 'object' || m === null) return this.end(`sent the pool a message that is none of the pool's (${foreign(m)})`);
    if (m.t === 'replies') {
      this.answered = true;
      return this.events.replies(m);
    }
    if (m.t === 'handlers') return this.events.handlers(this, m);
    if (m.t === 'reverse') return this.events.reverse(this, m);
    if (m.t === 'unsent') return this.events.unsent(this, m);
    if (m.t === 'callback-threw') return this.events.callbackThrew(this, m.message);
    if (m.t === 'flushed') return this.events.flushed(this, m.threw);
    if (m.t === 'unreadable') return this.end(`could not read a message from the pool (${m.message})`);
    if (m.t === 'ready') {
      if (this.state !== 'starting') return; // being ended already
      clearTimeout(this.loadTimer);
      this.state = 'ready';
      this.wasReady = true;
      return this.events.ready(this);
    }
    // What the module opened before it failed (a channel, a timer) would keep the thread alive.
    if (m.t === 'load-failed') return this.end(`could not load its module: ${m.message}`);
    this.end(`sent the pool a message that is none of the pool's (${foreign(m)})`);
  }

  /**
   * Ends a worker at fault, not retired: its exit is a crash, reported with `why` (the first fault
   * found). A message lost between the threads (a batch of calls or answers, a cancel, a close)
   * leaves what the worker holds unknown, so it takes no more calls and the pool fails those it
   * holds when it has exited.
   */
  private end(why: string): void {
    if (this.state === 'exited') return;
    this.failure ??= why;
    this.state = 'ending';
    void this.worker.terminate();
  }

  private exit(code: number): void {
    if (this.state === 'exited') return;
    this.state = 'exited';
    clearTimeout(this.loadTimer);
    // Sealed, so that no batch counted as never taken can still be taken (see messages-taken.ts).
    this.lastTaken = sealBatches(this.takenView);
    this.events.exited(this, this.failure ?? (portWasClosed(this.portClosed) ? 'closed its port to the pool' : `exited with code ${code}`));
  }
}

/** A message posted on the pool's port by code that is not the pool's, in a few words for the log. */
function foreign(m: unknown): string {
  if (m === null) return 'null';
  if (typeof m !== 'object') return typeof m;
  const t = (m as { t?: unknown }).t;
  return t === undefined ? 'an object without t' : `an object with t ${String(t).slice(0, 40)}`;
}
