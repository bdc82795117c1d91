import { EMPTY_BYTES, ErrorCode, RemoteError, RpcError, fromDownstream, invalidArgument, type ErrorPayload, type RetryPolicy } from '@skein/core';
import { SeqTable, abortedAlready, cancellable, hookAbort, metadataRefusal, type CallOptions, type Metadata, type Notify, type Reply } from '@skein/stream';
import type { ReverseAnswersMessage, ReverseCallOpts, ReverseCallsMessage } from './messages.js';
import { unpackReplies, type ReplySink } from './reply-batch.js';
import { ReverseCallPacker } from './reverse-call-batch.js';

/** Where a reverse call goes: a connection's caller in the worker (worker-caller.ts). */
export interface ReverseTarget {
  /** The pool's key for the connection. */
  readonly connKey: number;
  /** What its calls fail with once the pool no longer has the connection. */
  closedError(): RpcError;
}

/** A reverse call waiting for the pool's answer. */
interface Pending {
  readonly notify: Notify;
  readonly caller: ReverseTarget;
  /** Unhooks it from what may cancel it (its signal, its abort source): set while it is hooked. */
  unhookAbort?: () => void;
  /**
   * What its abort said in the worker (`hookAbort`: Cancelled with its signal's reason as cause,
   * or Timeout when the call it was made for passed its deadline): what its caller reads, as in
   * process, in place of the pool's Cancelled, which knows neither.
   */
  abortedWith?: RpcError;
}

type Opts = { -readonly [K in keyof ReverseCallOpts]?: ReverseCallOpts[K] };

/**
 * A worker's calls both ways: what its handlers send through `ctx.caller` (a WorkerCaller per
 * connection) leaves for the pool as one message per turn, with the cancels of calls whose signal
 * aborted; the pool's answers settle them. The time a call may take is the pool's caller's to
 * keep (a `{ ctx }` call's timeout is what was left of the deadline when it was made): every
 * call is answered by the pool exactly once, so nothing here waits on a timer.
 */
export class ReverseOutbox implements ReplySink {
  /** By id, handed out in order: a SeqTable, not a Map with a set and a delete per call (see the pool's relay). */
  private readonly pending = new SeqTable<Pending>();
  private readonly packer = new ReverseCallPacker();
  private nextId = 0;
  private flushQueued = false;
  private readonly flushLater = (): void => this.flush();

  constructor(
    private readonly post: (m: ReverseCallsMessage) => void,
    /**
     * A callback threw when its call was answered. In process that throw would fail the
     * connection the answer came on; here it would end the worker and every call it holds, on
     * any connection: it is reported instead, and the other answers of the batch still settle.
     */
    private readonly callbackThrew: (err: unknown) => void,
  ) {}

  send(caller: ReverseTarget, action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify): void {
    const blob = opts.blob ?? EMPTY_BYTES;
    const refused = refusal(action, msg, blob, opts);
    // Every outcome of a reverse call is the client's, or about this call (see RpcError.downstream).
    if (refused !== undefined) return notify(fromDownstream(refused), null);
    // No record at all: refused as a reverse call on a connection refuses it (stream's check, its words).
    const notRecord = metadataRefusal(opts.metadata);
    if (notRecord !== undefined) return notify(fromDownstream(notRecord), null);
    const metadata = opts.metadata === undefined ? undefined : plainMetadata(opts.metadata as object);
    if (metadata === null) return notify(fromDownstream(invalidArgument('metadata must be an object of strings')), null);
    const id = this.newId();
    const p: Pending = { notify, caller };
    this.pending.set(id, p);
    let o: Opts | undefined;
    const { timeoutMs, idempotent } = opts;
    if (timeoutMs !== undefined) (o ??= {}).timeoutMs = timeoutMs;
    if (idempotent !== undefined) (o ??= {}).idempotent = idempotent === true;
    if (metadata !== undefined) (o ??= {}).metadata = metadata;
    if (cancellable(opts)) {
      o ??= {};
      // The pool's caller checks an aborted signal where it checks one in process: after the options.
      const aborted = abortedAlready(opts);
      if (aborted !== undefined) {
        o.aborted = true;
        p.abortedWith = aborted;
      } else {
        o.cancellable = true;
        p.unhookAbort = hookAbort(opts, (why) => this.cancel(id, why));
      }
    }
    this.packer.add(id, caller.connKey, action, msg, blob, o);
    this.schedule();
  }

  /** The pool's answers to this worker's reverse calls. */
  answered(m: ReverseAnswersMessage): void {
    unpackReplies(m, this);
    for (const id of m.gone ?? []) {
      const p = this.settle(id);
      if (p !== undefined) this.tell(p, p.caller.closedError(), null);
    }
  }

  ok(id: number, msg: Uint8Array, blob: Uint8Array): void {
    this.tell(this.settle(id), null, { msg, blob });
  }

  error(id: number, code: ErrorCode, detail: string | undefined): void {
    this.tell(this.settle(id), new RpcError(code, detail), null);
  }

  custom(id: number, payload: ErrorPayload): void {
    this.tell(this.settle(id), new RemoteError(payload), null);
  }

  failed(id: number, code: ErrorCode, message: string, retry: RetryPolicy): void {
    this.tell(this.settle(id), new RpcError(code, message, { retry }), null);
  }

  private tell(p: Pending | undefined, err: RpcError | RemoteError | null, reply: Reply | null): void {
    if (p === undefined) return;
    if (p.abortedWith !== undefined && err instanceof RpcError && err.code === ErrorCode.Cancelled) err = p.abortedWith;
    // Rebuilt here from code and words, the main thread's mark is not sent across: it needs no
    // bit, for every reverse call's failure is a downstream's (the client's, or about the call).
    if (err !== null) fromDownstream(err);
    try {
      p.notify(err, reply);
    } catch (e) {
      this.callbackThrew(e);
    }
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (p === undefined) return undefined;
    this.pending.delete(id);
    if (p.unhookAbort !== undefined) p.unhookAbort();
    return p;
  }

  /**
   * Its signal aborted: the pool aborts the real call, and its answer (Cancelled: read as `why`,
   * as in process) settles it. Told twice (its signal and its abort source, in one turn), the
   * first decides, as in process, and the pool is told once.
   */
  private cancel(id: number, why: RpcError): void {
    const p = this.pending.get(id);
    if (p === undefined || p.abortedWith !== undefined) return;
    p.abortedWith = why;
    this.packer.cancel(id);
    this.schedule();
  }

  private newId(): number {
    do this.nextId = (this.nextId + 1) >>> 0;
    while (this.pending.get(this.nextId) !== undefined);
    return this.nextId;
  }

  private schedule(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(this.flushLater);
  }

  private flush(): void {
    this.flushQueued = false;
    this.post(this.packer.take());
  }
}

/**
 * What cannot cross to the pool's thread is refused here, as the connection's caller refuses
 * what it cannot send; the rest (an empty action, a timeout out of range, sizes over the other
 * side's limits) is the pool's caller's to refuse, with its own words.
 */
function refusal(action: unknown, msg: unknown, blob: unknown, opts: CallOptions): RpcError | undefined {
  if (typeof action !== 'string' && typeof action !== 'number') return invalidArgument('action must be a non-empty string or a number');
  if (!(msg instanceof Uint8Array)) return invalidArgument('msg must be a Uint8Array');
  if (!(blob instanceof Uint8Array)) return invalidArgument('blob must be a Uint8Array');
  const t = opts.timeoutMs as unknown;
  if (t !== undefined && typeof t !== 'number') return invalidArgument(`timeoutMs must be a positive number, got ${String(t)}`);
  return undefined;
}

/**
 * A metadata record's entries in a plain record of its own, or null when a value is not a string
 * or cannot be read. The turn's calls cross to the pool's thread in one message, which must clone whole: a Proxy of
 * strings passes a look at its entries but cannot be cloned, and would take the turn's other calls
 * (and the worker) down with it. The copy also keeps the entries the call was made with.
 */
function plainMetadata(v: object): Metadata | null {
  const copy = Object.create(null) as Record<string, string>; // "__proto__" stays an entry
  try {
    for (const k in v) {
      const value = (v as Record<string, unknown>)[k];
      if (typeof value !== 'string') return null;
      copy[k] = value;
    }
  } catch {
    return null; // a getter or a Proxy trap that throws
  }
  return copy;
}
