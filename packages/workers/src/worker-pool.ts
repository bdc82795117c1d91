import { ErrorCode, invalidArgument, RpcError } from '@skein/core';
import { actionName, RepeatedLine, type ConnInfo, type Dispatch, type ServerRequest } from '@skein/stream';
import { ActionTable } from './action-table.js';
import { Fifo } from './fifo.js';
import { BatchHeadsBuilder, headAlone, headCount, headPlace, type BatchHeads } from './batch-heads.js';
import type { CancelMessage, ConnDesc, RepliesMessage, UnsentRepliesMessage } from './messages.js';
import { resolvePoolOptions, type PoolSettings, type WorkerPoolOptions } from './pool-options.js';
import { unpackReplies, type ReplySink } from './reply-batch.js';
import { packCalls } from './request-batch.js';
import { ReverseRelay } from './reverse-relay.js';
import { StallWatch } from './stall-watch.js';
import { WorkerSlot, type ConnSeen, type SlotEvents } from './worker-slot.js';
import { batchAfter } from './messages-taken.js';
import { ClosingFlush } from './closing-flush.js';

export type WorkerPoolState = 'starting' | 'running' | 'closing' | 'closed';

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
 */
export class WorkerPool implements Dispatch {
  private readonly settings: PoolSettings;
  /** Calls in one batch to a worker: half of what it may hold (see pump). */
  private readonly batchMax: number;
  private readonly slots: WorkerSlot[] = [];
  private readonly queue = new Fifo<ServerRequest>();
  /** The requests the workers hold, by call id, and the worker that holds each. */
  private readonly held: (ServerRequest | undefined)[];
  private readonly holder: (WorkerSlot | undefined)[];
  /** The number of the batch each held call was sent in: whether its worker took it (see messages-taken.ts). */
  private readonly sentIn: Int32Array;
  private readonly freeIds: number[];
  /**
   * The pool's own number for each connection it has seen (with a close listener, so that the
   * workers that know it are told): a connection's id is unique per server only, and one pool
   * may serve several servers.
   */
  private readonly connKeys = new WeakMap<ConnInfo, number>();
  private nextConnKey = 1;
  private readonly batchConns: number[] = [];
  private readonly batch: ServerRequest[] = [];
  private readonly actions = new ActionTable();
  private readonly batchIds: number[] = [];
  private readonly heads = new BatchHeadsBuilder();
  /** Calls refused for a full queue (stats). */
  private overloaded = 0;
  /** The "queue full" line: once per stretch of refusals, then their count once per window (see `full`). */
  private readonly fullLine: RepeatedLine;
  /**
   * Queued calls cancelled, and connections closed, since the queue was last pruned of the calls
   * nobody waits for: a full queue prunes first.
   */
  private unwaitedQueued = 0;
  /**
   * Calls that came with a head cancelled in this turn, and why: their workers are told at its
   * end, one message each. Found among the held then, not kept in a map by request as they are
   * sent: a Map with a set and a delete per call keeps garbage alive in V8 (stream's
   * internals/seq-table.ts says how), and a WeakMap's set cost ~0.3 µs a call; cancels are few
   * beside calls (see `heldIds`).
   */
  private cancelled: (readonly [ServerRequest, unknown])[] = [];
  private readonly sendCancelsLater = (): void => this.sendCancels();
  /** The calls workers' handlers make through `ctx.caller`, run on their connections' callers. */
  private readonly reverse = new ReverseRelay();
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
  };
  private readonly events: SlotEvents = {
    ready: (slot) => this.ready(slot),
    replies: (m) => this.answered(m),
    unsent: (slot, m) => this.unsent(slot, m),
    reverse: (slot, m) => this.reverse.calls(slot, m),
    flushed: (slot, threw) => this.flushed(slot, threw),
    callbackThrew: (slot, message) => this.settings.logger.error({ worker: slot.index }, `worker ${slot.index}: a callback given to ctx.caller.send threw (${message}); the worker goes on`),
    exited: (slot, why) => this.exited(slot, why),
  };
  private starting: Starting | undefined;
  private pumpQueued = false;
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
    const { maxQueued, logger, clock } = settings;
    this.fullLine = new RepeatedLine(clock, (n) => logger.warn({ maxQueued, overloaded: n }, `worker pool queue full (maxQueued ${maxQueued}): ${n === 1 ? '1 more call' : `${n} more calls`} answered Overloaded since the last line`));
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
    return { state: this._state, workers, queued: this.queue.length, inFlight, crashes: this.crashes, overloaded: this.overloaded };
  }

  dispatch(req: ServerRequest): void {
    // Refusals before any worker saw the request go bare: the client reads them as unrun.
    if (this._state !== 'running') return void req.fail(ErrorCode.Closed);
    // A stream's frames travel on its connection, which no worker holds: not served here.
    if (req.stream !== undefined) return void req.fail(ErrorCode.Method, this.settings.expose ? `${actionName(req.action)}: streams are not served through a WorkerPool` : undefined);
    if (this.queue.length >= this.settings.maxQueued) {
      // The bound is on what waits for a worker, not on what waits for this turn's batch.
      this.pump();
      if (this.queue.length >= this.settings.maxQueued && this.unwaitedQueued > 0) this.pruneUnwaited();
      if (this.queue.length >= this.settings.maxQueued) {
        this.full();
        if (this.settings.whenFull === 'reject-new') return void req.fail(ErrorCode.Overloaded);
        this.queue.shift()!.fail(ErrorCode.Overloaded);
      }
    }
    if (!this.connKeys.has(req.conn)) this.watch(req.conn);
    // A call with a head can be cancelled alone (a plain one ends with its connection, watched
    // above): listened to without making its signal, an AbortController per call.
    if (req.headed) req.onAbort((reason) => this.aborted(req, reason));
    this.queue.push(req);
    if (!this.pumpQueued) {
      this.pumpQueued = true;
      queueMicrotask(this.pumpLater);
    }
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
    if (!this.cutting && !this.isDrained()) await new Promise<void>((r) => (this.drained = r));
    // Drained: what each worker's dispatch counted is said before its thread ends.
    if (!this.cutting) await this.lastWord.run(this.slots);
    if (this.slots.some((s) => s.state !== 'exited')) {
      const gone = new Promise<void>((r) => (this.allExited = r));
      const why = this.cutting ? 'was ended by destroy()' : 'was ended by close()';
      for (const s of this.slots) s.terminate(why);
      await gone;
    }
    this.stalls.stop();
    // The refusals counted since the last line would be lost with the pool.
    this.fullLine.flush();
    this._state = 'closed';
  }

  private spawn(index: number): WorkerSlot {
    return new WorkerSlot(index, ENTRY, this.settings, this.events);
  }

  /**
   * A call is refused for a full queue. Its caller reads a bare Overloaded, the same as a
   * server's connection or in-flight cap: a warn line tells the operator that it is this pool,
   * and `stats().overloaded` counts them. Bounded by time, not by runs of refusals: a small queue
   * that empties between batches would re-arm a per-run line once per batch under a flood.
   */
  private full(): void {
    this.overloaded++;
    if (!this.fullLine.hit()) return;
    const { maxQueued, whenFull } = this.settings;
    this.settings.logger.warn({ maxQueued, whenFull, workers: this.slots.length }, `worker pool queue full (maxQueued ${maxQueued}): answering Overloaded (whenFull: ${whenFull})`);
  }

  /** Calls nobody waits for any more give up their places before anyone is refused. */
  private pruneUnwaited(): void {
    this.unwaitedQueued = 0;
    let lost: ServerRequest[] | undefined;
    this.queue.prune((r) => {
      if (r.isAnswered) return false;
      if (!r.conn.signal.aborted) return true;
      (lost ??= []).push(r);
      return false;
    });
    // Answered once the queue is consistent: the last answer may end its connection.
    if (lost) for (const r of lost) r.fail(ErrorCode.Closed);
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
    if (this.queue.length > 0 && this.slots.every((s) => s.state === 'exited')) this.failQueued();
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
      const key = this.connKeys.get(req.conn)!;
      const principal = req.principal;
      const seen = slot.conns.get(key);
      if (seen === undefined || seen.principal !== principal || seen.kind !== req.conn.kind) {
        const desc = this.describe(key, req.conn, principal);
        if (seen !== undefined) (known ??= new Map()).set(key, seen);
        slot.conns.set(key, { principal, kind: desc.kind } satisfies ConnSeen);
        (conns ??= []).push(desc);
      }
      if (req.headed) this.heads.add(n, req);
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
      return this.sendApart(slot, n, conns, heads, known);
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

  /**
   * A batch that could not be posted (a value in it that cannot be cloned: a request's metadata
   * or principal, as a Dispatch in front of the pool made them) goes again one call at a time, so
   * that only the calls at fault are lost. Those never reached the worker and never ran: they
   * fail InvalidArgument saying so, and are answered once the others are sent.
   */
  private sendApart(slot: WorkerSlot, n: number, conns: ConnDesc[] | undefined, heads: BatchHeads | undefined, known: Map<number, ConnSeen> | undefined): void {
    const reqs = this.batch.slice(0, n);
    const ids = this.batchIds.slice(0, n);
    const keys = this.batchConns.slice(0, n);
    this.batch.length = 0;
    // A connection goes with the first of its calls that is sent.
    const untold = new Map((conns ?? []).map((d) => [d.key, d]));
    const lost: [ServerRequest, unknown][] = [];
    const withHead = headCount(heads);
    for (let i = 0, k = 0; i < n; i++) {
      const head = k < withHead && headPlace(heads!, k) === i ? headAlone(heads!, k++) : undefined;
      const desc = untold.get(keys[i]!);
      const req = reqs[i]!;
      try {
        this.post(slot, [req], [ids[i]!], [keys[i]!], 1, req.msg.length + req.blob.length, desc && [desc], head);
        untold.delete(keys[i]!);
      } catch (err) {
        lost.push([this.unbook(ids[i]!, req), err]);
      }
    }
    // Their new description did not go: described again with their next call. One the worker
    // knew from an earlier batch stays known, so that its close still reaches the worker (and
    // frees the places of its hung plain calls there).
    for (const key of untold.keys()) {
      const before = known?.get(key);
      if (before === undefined) slot.conns.delete(key);
      else slot.conns.set(key, before);
    }
    for (const [req, err] of lost) {
      const name = actionName(req.action);
      const why = err instanceof Error ? `${err.name}: ${err.message}` : 'postMessage threw';
      this.settings.logger.error({ worker: slot.index, action: req.action, err }, `${name}: a call could not be sent to worker ${slot.index} (${why}); it failed unrun`);
      req.fail(ErrorCode.InvalidArgument, `${name}: the call could not be sent to a worker thread (${why}); its handler did not run`);
    }
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
   * Answers a worker could not send back: their handlers ran, and what they answered is lost, so
   * the calls fail Internal (no retry: the same handler would answer the same). Logged, since it is
   * a bug in the handler's code.
   */
  private unsent(slot: WorkerSlot, m: UnsentRepliesMessage): void {
    for (let i = 0; i < m.ids.length; i++) {
      const req = this.release(m.ids[i]!);
      if (req === undefined) continue;
      const name = actionName(req.action);
      this.settings.logger.error({ worker: slot.index, action: req.action }, `${name}: worker ${slot.index} could not send the handler's answer back (${m.reasons[i]}); the call failed Internal`);
      req.fail(ErrorCode.Internal, this.settings.expose ? `${name}: the handler ran, but its answer could not leave worker ${slot.index}: ${m.reasons[i]}` : undefined);
    }
    this.pump();
  }

  /** Takes an answered call off the books; undefined if it is no longer held. */
  private release(id: number): ServerRequest | undefined {
    const req = this.held[id];
    if (!req) return undefined;
    this.holder[id]!.inFlight--;
    return this.unbook(id, req);
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
    const { failed, untaken } = this.failHeld(slot, why);
    this.reverse.workerExited(slot);
    if (this.starting) return this.startFailed(slot, why);
    if (!slot.retiring) {
      this.crashes++;
      // A replacement that never loaded would fail the same way again, in a loop: it stays down.
      const replace = slot.wasReady && (this._state === 'running' || this.queue.length > 0);
      const what = replace ? 'replaced' : 'not replaced';
      const again = untaken === 0 ? '' : untaken === 1 ? '; 1 call it had not taken was queued again' : `; ${untaken} calls it had not taken were queued again`;
      this.settings.logger.error({ worker: slot.index, calls: failed, requeued: untaken }, `worker ${slot.index} ${why}; ${heldFailed(failed)}${again}; ${what}`);
      if (replace) this.slots[slot.index] = this.spawn(slot.index);
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

  /**
   * Settles the calls a dead worker held. Those in a batch it took may have run: they fail IO.
   * Those in batches it never took off its port (its thread blocked or died first) never ran:
   * they go back to the head of the queue for another worker, or, when the pool is being
   * destroyed, fail Closed, bare (unrun), as the queued ones do. Returns how many failed IO and
   * how many were queued again.
   */
  private failHeld(slot: WorkerSlot, why: string): { failed: number; untaken: number } {
    const ran: ServerRequest[] = [];
    const unrun: { req: ServerRequest; seq: number }[] = [];
    for (let id = 0; id < this.holder.length; id++) {
      if (this.holder[id] !== slot) continue;
      const seq = this.sentIn[id]!;
      const req = this.release(id)!;
      if (slot.neverTook(seq)) unrun.push({ req, seq });
      else ran.push(req);
    }
    if (unrun.length !== 0 && !this.cutting) {
      // In the order they were sent, ahead of the calls that came after them.
      // Batch numbers wrap at 2^31: compared as the worker compares them, not by size.
      unrun.sort((a, b) => (a.seq === b.seq ? 0 : batchAfter(a.seq, b.seq) ? 1 : -1));
      this.queue.pushFront(unrun.map((u) => u.req));
    }
    // Answered once the queue is consistent: the last answer may end its connection.
    if (this.cutting) for (const { req } of unrun) req.fail(ErrorCode.Closed);
    for (const req of ran) req.fail(ErrorCode.IO, this.settings.expose ? `${actionName(req.action)}: worker ${slot.index} ${why} while holding this call; the handler may have run` : undefined);
    return { failed: ran.length, untaken: this.cutting ? 0 : unrun.length };
  }

  private failQueued(): void {
    for (let r = this.queue.shift(); r; r = this.queue.shift()) r.fail(ErrorCode.Closed);
  }

  private isDrained(): boolean {
    return this.queue.length === 0 && this.slots.every((s) => s.inFlight === 0);
  }

  /** A connection for a worker. A principal that cannot cross to a thread (a function, a socket) stays behind. */
  private describe(key: number, conn: ConnInfo, principal: unknown): ConnDesc {
    const desc: { -readonly [K in keyof ConnDesc]: ConnDesc[K] } = { key, id: conn.id, remote: conn.remote, transport: conn.transport, identity: conn.identity, kind: conn.kind };
    if (conn.caller !== undefined) desc.callsBack = true;
    if (conn.draining.aborted) desc.draining = true;
    if (principal === undefined) return desc;
    try {
      structuredClone(principal);
      return { ...desc, principal };
    } catch (err) {
      this.settings.logger.warn({ conn: conn.id, err }, `connection ${conn.id}: its principal cannot be sent to a worker thread; handlers there see none`);
      return desc;
    }
  }

  /**
   * A call with a head stopped being waited for (its signal aborted: a cancel frame, its
   * deadline, its connection lost). Held: its worker is told, and answers it at once, which frees
   * its slot. Queued: it is skipped when its turn comes, or pruned when the queue is full.
   */
  private aborted(req: ServerRequest, reason: unknown): void {
    // Counted whether it is queued or held (which is found at the turn's end): a queue full in
    // this very turn prunes first, and a count too many costs one prune that finds nothing.
    this.unwaitedQueued++;
    if (this.cancelled.push([req, reason]) === 1) queueMicrotask(this.sendCancelsLater);
  }

  /**
   * How to find where `n` cancelled calls are held (-1: not held): a search of the held calls
   * each, or, when that would cost more than one pass (a connection lost under many calls, in a
   * large pool: `held` has workers × maxInFlightPerWorker places), a map made in one pass, which
   * lives for this turn only.
   */
  private heldIds(n: number): (req: ServerRequest) => number {
    const held = this.held;
    if (n <= 4 || n * held.length <= 1 << 16) return (req) => held.indexOf(req);
    const ids = new Map<ServerRequest, number>();
    for (let id = 0; id < held.length; id++) if (held[id] !== undefined) ids.set(held[id]!, id);
    return (req) => ids.get(req) ?? -1;
  }

  /**
   * Tells each worker which of its calls were cancelled this turn. The call ids are read now: a
   * call answered meanwhile is skipped, so a cancel never names an id already given to another call.
   */
  private sendCancels(): void {
    const perWorker = new Map<WorkerSlot, CancelMessage>();
    const cancelled = this.cancelled;
    this.cancelled = [];
    const idOf = this.heldIds(cancelled.length);
    for (const [req, reason] of cancelled) {
      const id = idOf(req);
      // Not held: queued (skipped at its turn, or pruned when the queue is full), or answered.
      if (id < 0) continue;
      const slot = this.holder[id]!;
      let m = perWorker.get(slot);
      if (!m) perWorker.set(slot, (m = { t: 'cancel', ids: [], codes: [], messages: [] }));
      const err = reason instanceof RpcError ? reason : new RpcError(ErrorCode.Cancelled, String(reason));
      m.ids.push(id);
      m.codes.push(err.code);
      m.messages.push(err.message);
    }
    for (const [slot, m] of perWorker) if (slot.state !== 'exited') slot.tell(m);
  }

  private watch(conn: ConnInfo): void {
    if (conn.signal.aborted) return; // its requests are skipped: nobody reads their answers
    const key = this.nextConnKey++;
    this.connKeys.set(conn, key);
    this.reverse.opened(key, conn.caller);
    // The workers that know the connection are told when its server begins to close (ConnInfo.draining); those told of it later, by its description.
    const draining = conn.draining;
    const onDraining = (): void => {
      for (const s of this.slots) if (s.conns.has(key) && s.state !== 'exited') s.tell({ t: 'draining', key });
    };
    if (!draining.aborted) draining.addEventListener('abort', onDraining, { once: true });
    conn.signal.addEventListener(
      'abort',
      () => {
        draining.removeEventListener('abort', onDraining);
        // Its queued calls (plain ones have no signal of their own) give up their places too.
        if (this.queue.length !== 0) this.unwaitedQueued++;
        this.reverse.closed(key);
        for (const s of this.slots) if (s.conns.delete(key) && s.state !== 'exited') s.tell({ t: 'closed', key });
      },
      { once: true },
    );
  }
}

/** What became of the calls a worker held when it ended, in words a log line reads right at 0 and 1 too. */
function heldFailed(n: number): string {
  if (n === 0) return 'it held no calls';
  return n === 1 ? 'the 1 call it held failed (it may have run)' : `the ${n} calls it held failed (they may have run)`;
}
