import { ErrorCode, invalidArgument, type RpcError } from '@skein/core';
import { actionName, type ConnInfo, type Dispatch, type ServerRequest } from '@skein/stream';
import { ActionTable } from './action-table.js';
import { BatchHeadsBuilder, type BatchHeads } from './batch-heads.js';
import { failUnsent, sendApart, type CrossLink } from './cannot-cross.js';
import { ClosingFlush } from './closing-flush.js';
import { exitLine, settleHeld, type HeldLink } from './held-at-exit.js';
import { HeldCancels } from './held-cancels.js';
import { InputQueue, type QueuedConn } from './input-queue.js';
import { AbandonedOnWorkers } from './abandoned-on-workers.js';
import type { ConnDesc, RepliesMessage } from './messages.js';
import { PoolConns, type ConnsLink } from './pool-conns.js';
import { resolvePoolOptions, type PoolSettings, type WorkerPoolOptions } from './pool-options.js';
import type { WorkerPoolState, WorkerPoolStats } from './pool-stats.js';
import { QueueBound } from './queue-bound.js';
import { unpackReplies, type ReplySink } from './reply-batch.js';
import { packCalls } from './request-batch.js';
import { RespawnBackoff } from './respawn-backoff.js';
import { ReverseRelay } from './reverse-relay.js';
import { StallWatch } from './stall-watch.js';
import { WorkerSlot, type ConnSeen, type SlotEvents } from './worker-slot.js';

/** A batch stops growing past this many bytes (one frame can still be bigger): a hop stays a bounded copy. */
const BATCH_BYTES = 1 << 20;

/** The built entry; run from the sources (tests, `skein-source`), the one `pnpm build` made. */
const ENTRY = new URL(import.meta.url.endsWith('.ts') ? '../dist/worker-main.js' : './worker-main.js', import.meta.url);

interface Starting {
  left: number;
  resolve: () => void;
  reject: (err: RpcError) => void;
}

/**
 * A Dispatch that runs requests on a pool of worker threads, each loading the same module of
 * handlers. Requests wait in one bounded input queue on this thread; each worker holds up to
 * `maxInFlightPerWorker` at once, sent in batches (one message per batch), and sends its
 * answers back in batches, which each connection's writer batches again per turn.
 *
 * A worker that dies is replaced; the calls it held in batches it took fail with IO, which says
 * "may have run" (the handler may have done its work before the crash); those of batches it never
 * took never ran, and go to another worker. `close()` refuses new requests, lets the
 * queued and held ones finish, then ends the workers.
 *
 * What stays here is each call's path (queue, batch, post, answer) and the pool's life (start,
 * a worker's end, close); beside it, in files of their own, what no call's path touches: a full
 * queue (queue-bound.ts), the connections (pool-conns.ts), the cancels of held calls
 * (held-cancels.ts), calls whose values cannot cross to or from a worker (cannot-cross.ts) and
 * the calls a dead worker held (held-at-exit.ts). They reach the pool through a link each defines.
 */
export class WorkerPool implements Dispatch {
  private readonly settings: PoolSettings;
  /** Calls in one batch to a worker: half of what it may hold (see pump). */
  private readonly batchMax: number;
  private readonly slots: WorkerSlot[] = [];
  private readonly queue: InputQueue;
  /** What a full queue does: prune, then refuse past a connection's share (`maxQueued`, `whenFull`). */
  private readonly bound: QueueBound;
  /** The requests the workers hold, by call id, and the worker that holds each. */
  private readonly held: (ServerRequest | undefined)[];
  private readonly holder: (WorkerSlot | undefined)[];
  /** The number of the batch each held call was sent in: whether its worker took it (see messages-taken.ts). */
  private readonly sentIn: Int32Array;
  private readonly freeIds: number[];
  /** The calls workers' handlers make through `ctx.caller`, run on their connections' callers. */
  private readonly reverse = new ReverseRelay();
  /** The connections seen, and what their workers are told of them. */
  private readonly conns: PoolConns;
  /** The pool's record of each connection it has seen: `conns.records`, read per call without the hop. */
  private readonly records: WeakMap<ConnInfo, QueuedConn>;
  private readonly batchConns: number[] = [];
  private readonly batch: ServerRequest[] = [];
  private readonly actions = new ActionTable();
  private readonly batchIds: number[] = [];
  private readonly heads = new BatchHeadsBuilder();
  /** Calls that came with a head and were cancelled: their workers are told once a turn. */
  private readonly cancels: HeldCancels;
  /** Handlers the workers run on past their answers, which their servers count until they end. */
  private readonly abandoned: AbandonedOnWorkers;
  /** Ends a worker that holds calls and stops reading its port (`stallTimeoutMs`). */
  private readonly stalls: StallWatch;
  private readonly sink: ReplySink = {
    // The worker's requests checked these answers (bytes, codes), and the request here checks
    // them again at no cost that counts: no answer that is none reaches the client as another.
    ok: (id, msg, blob) => this.release(id)?.reply(msg, blob),
    error: (id, code, detail) => this.release(id)?.fail(code, detail),
    custom: (id, payload) => this.release(id)?.failCustom(payload),
    // A worker answers its calls by the three above; this kind carries reverse calls' outcomes the other way.
    failed: (id, code, message) => this.release(id)?.fail(code, message),
    // Before its answer, on the call still held: set as the handler set it, checked again here.
    head: (id, head) => this.replyHead(id, head),
  };
  private readonly events: SlotEvents = {
    ready: (slot) => this.ready(slot),
    replies: (m) => this.answered(m),
    handlers: (slot, m) => this.abandoned.heard(slot, m),
    unsent: (slot, m) => {
      failUnsent(this.crossLink(), slot, m);
      this.pump();
    },
    reverse: (slot, m) => this.reverse.calls(slot, m),
    flushed: (slot, threw) => this.flushed(slot, threw),
    callbackThrew: (slot, message) => this.settings.logger.error({ worker: slot.index }, `worker ${slot.index}: a callback given to ctx.caller.send threw (${message}); the worker goes on`),
    exited: (slot, why) => this.exited(slot, why),
  };
  private starting: Starting | undefined;
  private pumpQueued = false;
  /** A closing pool's prune of the calls nobody waits for is queued for this turn's end. */
  private pruneQueued = false;
  private readonly pumpLater = (): void => this.pump();
  private _state: WorkerPoolState = 'starting';
  private crashes = 0;
  private drained: (() => void) | undefined;
  private allExited: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  /** `destroy()`: end the workers without waiting for what they hold. */
  private cutting = false;
  /** A graceful close's wait for the workers' dispatches to say what they counted. */
  private readonly lastWord = new ClosingFlush();
  /** When a dead worker is replaced: later each time, for workers that keep dying before they answer. */
  private readonly respawns = new RespawnBackoff();

  /** Starts the workers; resolves once every one has loaded the module (else rejects with InvalidArgument and ends them). */
  static async start(opts: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(resolvePoolOptions(opts));
    await new Promise<void>((resolve, reject) => {
      pool.starting = { left: pool.settings.workers, resolve, reject };
      for (let i = 0; i < pool.settings.workers; i++) pool.slots.push(pool.spawn(i));
    });
    return pool;
  }

  private constructor(settings: PoolSettings) {
    this.settings = settings;
    const capacity = settings.workers * settings.maxInFlightPerWorker;
    this.held = new Array<ServerRequest | undefined>(capacity).fill(undefined);
    this.holder = new Array<WorkerSlot | undefined>(capacity).fill(undefined);
    this.sentIn = new Int32Array(capacity);
    this.freeIds = Array.from({ length: capacity }, (_, i) => capacity - 1 - i);
    this.batchMax = Math.ceil(settings.maxInFlightPerWorker / 2);
    this.stalls = new StallWatch(settings.stallTimeoutMs, this.slots);
    this.conns = new PoolConns(this.connsLink());
    this.records = this.conns.records;
    this.queue = new InputQueue(this.records);
    this.bound = new QueueBound(this.queue, settings);
    this.cancels = new HeldCancels(this.held, this.holder);
    this.abandoned = new AbandonedOnWorkers(this.held, this.holder);
  }

  get state(): WorkerPoolState {
    return this._state;
  }

  stats(): WorkerPoolStats {
    let workers = 0;
    let inFlight = 0;
    for (const s of this.slots) {
      if (s.state === 'ready') workers++;
      inFlight += s.inFlight;
    }
    return { state: this._state, workers, queued: this.queue.length, inFlight, crashes: this.crashes, overloaded: this.bound.overloaded };
  }

  dispatch(req: ServerRequest): void {
    // Refusals before any worker saw the request go bare: the client reads them as unrun.
    if (this._state !== 'running') return void req.fail(ErrorCode.Closed);
    // A stream's frames travel on its connection, which no worker holds: not served here.
    if (req.stream !== undefined) return void req.fail(ErrorCode.Method, this.settings.expose ? `${actionName(req.action)}: streams are not served through a WorkerPool` : undefined);
    // Its connection's first call: the connection is watched (its close, its draining), and counted in the queue.
    const from = this.records.get(req.conn) ?? this.conns.watch(req.conn);
    // Closed already: nobody reads the answer (unrun; the server counts the call until answered).
    if (from === undefined) return void req.fail(ErrorCode.Closed);
    if (this.queue.length >= this.settings.maxQueued) {
      // The bound is on what waits for a worker, not on what waits for this turn's batch.
      this.pump();
      if (this.queue.length >= this.settings.maxQueued && !this.bound.makeRoom(req, from)) return;
    }
    // A call with a head can be cancelled alone (a plain one ends with its connection, watched
    // above): listened to without making its signal, an AbortController per call.
    if (req.headed) req.onAbort((reason) => this.aborted(req, reason));
    this.queue.push(req, from);
    if (!this.pumpQueued) {
      this.pumpQueued = true;
      queueMicrotask(this.pumpLater);
    }
  }

  /**
   * For a call its server abandoned (cancelled, past its deadline) while a worker holds it: the
   * pool tells when its handler ends (its worker says so; see abandoned-on-workers.ts), so that
   * the server counts it against its connection, as it counts the handlers of its own event loop.
   */
  tellsHandlerEndOf(req: ServerRequest): boolean {
    return this.abandoned.tells(req);
  }

  /**
   * No stream's handler here reads items: the pool refuses every stream unrun (`dispatch`), so
   * one opened on it holds none of its connection's `streamBudgetBytes` until that answer.
   */
  readsItems(): boolean {
    return false;
  }

  /**
   * Refuses new requests (Closed, unrun), lets the queued and held ones finish, lets each worker's
   * dispatch say what it counted (see ClosingFlush), then ends the workers. Resolves when every
   * worker has exited.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /**
   * A server handing requests here closed: each live worker's dispatch hears it, so that what it
   * counted and has not logged is said (see `Dispatch.serverClosed`). The pool serves on: it may
   * serve other servers, and only its own `close()` ends it.
   */
  serverClosed(): void {
    for (const s of this.slots) if (s.state === 'ready') s.tell({ t: 'closing' });
  }

  /** Ends the workers now: queued requests fail with Closed (unrun), held ones with IO (may have run). */
  destroy(): Promise<void> {
    this.cutting = true;
    this.lastWord.cut();
    if (this._state === 'running') this._state = 'closing';
    this.failQueued();
    this.drained?.();
    return this.close();
  }

  private async shutdown(): Promise<void> {
    this._state = 'closing';
    if (!this.cutting && !this.isDrained()) {
      await new Promise<void>((r) => {
        this.drained = r;
        this.unwaitedWhileClosing();
      });
    }
    // Drained: what each worker's dispatch counted is said before its thread ends.
    if (!this.cutting) await this.lastWord.run(this.slots);
    // Ending: a replacement waiting its turn is not started.
    this.respawns.cancel();
    if (this.slots.some((s) => s.state !== 'exited')) {
      const gone = new Promise<void>((r) => (this.allExited = r));
      const why = this.cutting ? 'was ended by destroy()' : 'was ended by close()';
      for (const s of this.slots) s.terminate(why);
      await gone;
    }
    this.stalls.stop();
    this.bound.flush();
    this._state = 'closed';
  }

  /** A replacement that waited its turn (respawn-backoff.ts): started if there is still work for it. */
  private respawn(index: number): void {
    if (this._state === 'running' || this.queue.length > 0) this.slots[index] = this.spawn(index);
  }

  private spawn(index: number): WorkerSlot {
    return new WorkerSlot(index, ENTRY, this.settings, this.events);
  }

  /** Hands queued requests to the workers with room, the emptiest first, in batches. */
  private pump(): void {
    this.pumpQueued = false;
    const max = this.settings.maxInFlightPerWorker;
    while (this.queue.length > 0) {
      let best: WorkerSlot | undefined;
      let idle = 0;
      for (const s of this.slots) {
        if (s.state !== 'ready' || s.inFlight >= max) continue;
        if (s.inFlight === 0) idle++;
        if (!best || s.inFlight < best.inFlight) best = s;
      }
      if (!best) break;
      // Idle workers share a burst evenly, so that one does not take it all while another waits;
      // a busy one takes what is queued whole, up to half of what it may hold: fewer and fuller
      // batches (each costs a message both ways, and the client reads its answers in fewer
      // pieces), and its next batch waits for it when it posts its answers, so it never idles
      // for the round trip to this thread.
      const share = idle > 1 ? Math.ceil(this.queue.length / idle) : this.queue.length;
      this.send(best, Math.min(max - best.inFlight, this.batchMax, share));
    }
    if (this.queue.length > 0 && this.slots.every((s) => s.state === 'exited') && !this.respawns.pending) this.failQueued();
    // Whatever emptied the queue (calls sent, or skipped because nobody waits for them), close may be waiting for it.
    if (this.drained !== undefined && this.isDrained()) this.drained();
  }

  private send(slot: WorkerSlot, limit: number): void {
    let n = 0;
    let bytes = 0;
    let conns: ConnDesc[] | undefined;
    /** What the worker knew of a connection described again in this batch, should the batch not go. */
    let known: Map<number, ConnSeen> | undefined;
    while (n < limit && bytes < BATCH_BYTES) {
      const req = this.queue.shift();
      if (!req) break;
      // Nobody is left to read the answer: the call was cancelled or timed out, or its connection
      // closed; that connection still counts the call until it is answered (unrun: Closed).
      if (req.isAnswered) continue;
      if (req.conn.signal.aborted) {
        req.fail(ErrorCode.Closed);
        continue;
      }
      const id = this.freeIds.pop()!;
      this.held[id] = req;
      this.holder[id] = slot;
      const key = this.queue.shiftedFrom!.key;
      const principal = req.principal;
      const seen = slot.conns.get(key);
      if (seen === undefined || seen.principal !== principal || seen.kind !== req.conn.kind) {
        const desc = this.conns.describe(key, req.conn, principal, req.replyMetadataRoom);
        if (seen !== undefined) (known ??= new Map()).set(key, seen);
        slot.conns.set(key, { principal, kind: desc.kind } satisfies ConnSeen);
        (conns ??= []).push(desc);
      }
      if (req.headed) this.heads.add(n, req);
      // A plain call's metadata is the empty record, unless a dispatch in front gave it some.
      else if (hasEntries(req.metadata)) this.heads.addPlain(n, req.metadata);
      this.batchConns[n] = key;
      this.batch[n] = req;
      this.batchIds[n++] = id;
      bytes += req.msg.length + req.blob.length;
    }
    if (n === 0) return;
    const heads = this.heads.take();
    try {
      this.post(slot, this.batch, this.batchIds, this.batchConns, n, bytes, conns, heads);
    } catch {
      const reqs = this.batch.slice(0, n);
      this.batch.length = 0;
      return sendApart(this.crossLink(), slot, reqs, this.batchIds.slice(0, n), this.batchConns.slice(0, n), conns, heads, known);
    }
    this.batch.length = 0;
  }

  /** Packs calls into one message and posts it to the worker; throws what postMessage throws (nothing is then sent). */
  private post(slot: WorkerSlot, reqs: readonly ServerRequest[], ids: readonly number[], keys: readonly number[], n: number, bytes: number, conns: ConnDesc[] | undefined, heads: BatchHeads | undefined): void {
    const names: string[] = [];
    const buf = packCalls(reqs, ids, keys, n, bytes, this.actions, names);
    const known = slot.actionsKnown;
    const all = this.actions.names;
    const newActions = known < all.length ? all.slice(known) : undefined;
    const seq = slot.nextBatch();
    slot.post({ t: 'calls', seq, n, buf, newActions, names, conns, heads });
    for (let i = 0; i < n; i++) this.sentIn[ids[i]!] = seq;
    slot.actionsKnown = all.length;
    this.stalls.arm();
  }

  private ready(slot: WorkerSlot): void {
    const s = this.starting;
    if (s && --s.left === 0) {
      this.starting = undefined;
      this._state = 'running';
      s.resolve();
    }
    if (slot.state === 'ready') this.pump();
  }

  private answered(m: RepliesMessage): void {
    unpackReplies(m, this.sink);
    this.pump();
  }

  /**
   * The reply metadata a worker's handler set, for the answer that follows, or sent ahead of it
   * on a call with a deadline (reply-heads-ahead.ts), for a Timeout answered here. The worker checked it
   * against its client's bound (its description's `replyMetadataRoom`), so this refuses nothing
   * but a bound that changed since (a second hello): then it is dropped, and said for each head
   * dropped (once for a call without a deadline; one with a deadline may send a head ahead in
   * each turn its handler set entries in, each holding all of them, and each is said).
   */
  private replyHead(id: number, head: Uint8Array): void {
    const req = this.held[id];
    if (req === undefined) return;
    try {
      req.setReplyMetadataHead(head);
    } catch (err) {
      this.settings.logger.warn({ action: req.action, err }, `${actionName(req.action)}: the reply metadata its handler set in a worker was dropped (${(err as Error).message})`);
    }
  }

  /** Takes an answered call off the books; undefined if it is no longer held, or its answer goes nowhere. */
  private release(id: number): ServerRequest | undefined {
    const req = this.held[id];
    if (!req) return undefined;
    this.holder[id]!.inFlight--;
    this.unbook(id, req);
    // Undefined for a call answered already whose handler runs on: its answer ends nothing.
    return this.abandoned.released(id, req) ? req : undefined;
  }

  /** Frees a call's id; its worker's count is the caller's to keep (a call never posted was never counted). */
  private unbook(id: number, req: ServerRequest): ServerRequest {
    this.held[id] = undefined;
    this.holder[id] = undefined;
    this.freeIds.push(id);
    return req;
  }

  /** A worker's dispatch heard a server's or the pool's close. */
  private flushed(slot: WorkerSlot, threw: string | undefined): void {
    if (threw !== undefined) this.settings.logger.error({ worker: slot.index, err: threw }, `worker ${slot.index}: dispatch.serverClosed threw (${threw})`);
    this.lastWord.settled(slot);
  }

  private exited(slot: WorkerSlot, why: string): void {
    this.lastWord.settled(slot);
    const held = settleHeld(this.heldLink(), slot, why);
    this.abandoned.exited(slot);
    this.reverse.workerExited(slot);
    if (this.starting) return this.startFailed(slot, why);
    if (!slot.retiring) {
      this.crashes++;
      // A replacement that never loaded would fail the same way again, in a loop: it stays down.
      const replace = slot.wasReady && (this._state === 'running' || this.queue.length > 0);
      const waitMs = replace ? this.respawns.delayFor(slot.index, slot.answered) : 0;
      this.settings.logger.error({ worker: slot.index, calls: held.failed, requeued: held.untaken }, exitLine(slot, why, held, replace, waitMs));
      if (replace && waitMs === 0) this.slots[slot.index] = this.spawn(slot.index);
      else if (replace) this.respawns.later(slot.index, waitMs, () => this.respawn(slot.index));
    }
    this.pump();
    if (this.allExited && this.slots.every((s) => s.state === 'exited')) this.allExited();
  }

  /** A module that does not load (or a worker that dies before it is ready) is a configuration mistake. */
  private startFailed(slot: WorkerSlot, why: string): void {
    const s = this.starting!;
    this.starting = undefined;
    this._state = 'closed';
    for (const other of this.slots) if (other !== slot) other.terminate('was ended: the pool did not start');
    s.reject(invalidArgument(`worker pool: worker ${slot.index} ${why}`));
  }

  private failQueued(): void {
    for (let r = this.queue.shift(); r; r = this.queue.shift()) r.fail(ErrorCode.Closed);
  }

  private isDrained(): boolean {
    return this.queue.length === 0 && this.slots.every((s) => s.inFlight === 0);
  }

  /**
   * A call with a head stopped being waited for (its signal aborted: a cancel frame, its
   * deadline, its connection lost). Held: its worker is told, and answers it at once, which frees
   * its slot. Queued: it is skipped when its turn comes, or pruned when the queue is full.
   */
  private aborted(req: ServerRequest, reason: unknown): void {
    this.bound.mayBeUnwaited();
    this.cancels.add(req, reason);
    this.unwaitedWhileClosing();
  }

  /**
   * While close waits for the queue to empty: calls nobody waits for any more (answered at their
   * deadline, cancelled, their connection closed) leave it now, not at their turn, which may never
   * come while no worker is loaded (a replacement waiting its turn, or loading); close then ends
   * it. After the turn: a closing connection calls here from its abort listeners, and answers
   * its calls Closed only once its own close has run (as the pruning of a full queue does).
   */
  private unwaitedWhileClosing(): void {
    if (this.drained === undefined || this.queue.length === 0 || this.pruneQueued) return;
    // Once per turn: a storm of cancels read at once would walk the queue once per cancel.
    this.pruneQueued = true;
    queueMicrotask(() => {
      this.pruneQueued = false;
      this.bound.pruneUnwaited();
      if (this.isDrained()) this.drained?.();
    });
  }

  /** Made once: the connections' book keeps it for the pool's life. */
  private connsLink(): ConnsLink {
    return {
      slots: this.slots,
      logger: this.settings.logger,
      opened: (key, caller) => this.reverse.opened(key, caller),
      closed: (key) => {
        // Its queued calls (plain ones have no signal of their own) give up their places too.
        if (this.queue.length !== 0) this.bound.mayBeUnwaited();
        this.reverse.closed(key);
        this.unwaitedWhileClosing();
      },
    };
  }

  /** Made only when a value could not cross: never on a call's path. */
  private crossLink(): CrossLink {
    return {
      logger: this.settings.logger,
      expose: this.settings.expose,
      post: (...args) => this.post(...args),
      unbook: (id, req) => this.unbook(id, req),
      release: (id) => this.release(id),
    };
  }

  /** Made at a worker's end, with `cutting` as it is then. */
  private heldLink(): HeldLink {
    return {
      holder: this.holder,
      sentIn: this.sentIn,
      queue: this.queue,
      cutting: this.cutting,
      expose: this.settings.expose,
      release: (id) => this.release(id),
    };
  }
}

/** `metadata` has an entry: a for-in that allocates nothing on the empty record of a plain call. */
function hasEntries(metadata: object): boolean {
  for (const _ in metadata) return true;
  return false;
}
