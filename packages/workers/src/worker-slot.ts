import { Worker } from 'node:worker_threads';
import type { ConnKind } from '@skein/stream';
import { describeError } from './describe-error.js';
import { PORT_CLOSED_EXIT_CODE, type CallsMessage, type FromWorker, type RepliesMessage, type ReverseCallsMessage, type ToWorker, type UnsentRepliesMessage } from './messages.js';
import type { PoolSettings } from './pool-options.js';

/** What a slot tells its pool. Nothing is reported once the worker has exited. */
export interface SlotEvents {
  ready(slot: WorkerSlot): void;
  replies(m: RepliesMessage): void;
  /** Answers the worker could not send back (their handlers ran). */
  unsent(slot: WorkerSlot, m: UnsentRepliesMessage): void;
  /** Calls its handlers made through `ctx.caller`, for the pool to send on their connections. */
  reverse(slot: WorkerSlot, m: ReverseCallsMessage): void;
  /** A callback its handlers gave `ctx.caller.send` threw (the worker went on). */
  callbackThrew(slot: WorkerSlot, message: string): void;
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
  /** Set by the pool when it ends the worker on purpose: the exit is then no crash. */
  retiring = false;
  /** How much of the pool's action table the worker has been sent. */
  actionsKnown = 0;
  /** The worker loaded its module once: a replacement that never does is not replaced again. */
  wasReady = false;
  private readonly worker: Worker;
  private failure: string | undefined;

  constructor(
    readonly index: number,
    entry: URL,
    settings: Pick<PoolSettings, 'module' | 'execArgv' | 'resourceLimits'>,
    private readonly events: SlotEvents,
  ) {
    const { module, execArgv, resourceLimits } = settings;
    this.worker = new Worker(entry, { workerData: { module }, ...(execArgv ? { execArgv } : {}), ...(resourceLimits ? { resourceLimits } : {}) });
    this.worker.on('message', (m: FromWorker) => this.receive(m));
    this.worker.on('error', (err) => (this.failure ??= `threw ${describeError(err)}`));
    this.worker.on('messageerror', (err) => this.end(`sent the pool a message it could not read (${describeError(err)})`));
    this.worker.on('exit', (code) => this.exit(code));
  }

  /** Counted as held once posted: a batch that cannot be posted (postMessage throws) leaves nothing counted. */
  post(m: CallsMessage): void {
    this.worker.postMessage(m, [m.buf]);
    this.inFlight += m.n;
  }

  tell(m: ToWorker, transfer?: ArrayBuffer[]): void {
    this.worker.postMessage(m, transfer);
  }

  /** Ends the worker now; `exited` follows. */
  terminate(): void {
    this.retiring = true;
    void this.worker.terminate();
  }

  private receive(m: FromWorker): void {
    if (this.state === 'exited') return;
    if (m.t === 'replies') return this.events.replies(m);
    if (m.t === 'reverse') return this.events.reverse(this, m);
    if (m.t === 'unsent') return this.events.unsent(this, m);
    if (m.t === 'callback-threw') return this.events.callbackThrew(this, m.message);
    if (m.t === 'unreadable') return this.end(`could not read a message from the pool (${m.message})`);
    if (m.t === 'ready') {
      if (this.state !== 'starting') return; // being ended already
      this.state = 'ready';
      this.wasReady = true;
      return this.events.ready(this);
    }
    // What the module opened before it failed (a channel, a timer) would keep the thread alive.
    this.end(`could not load its module: ${m.message}`);
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
    this.events.exited(this, this.failure ?? (code === PORT_CLOSED_EXIT_CODE ? 'closed its port to the pool' : `exited with code ${code}`));
  }
}
