import { ErrorCode, RpcError } from '@skein/core';

/**
 * What StreamDeadlines needs of a stream (a StreamCall): to end it, and the links it keeps for
 * the list it is in. Stated here, not imported, so that the stream's file needs nothing of this one.
 */
export interface TimedStream {
  readonly isDone: boolean;
  readonly seq: number;
  // The rest @internal, as on StreamCall: stripInternal leaves `implements TimedStream` in the
  // published types, which must then ask no member it left out there (TS2420).
  /** @internal */
  expire(err: RpcError): void;
  /** @internal The list it is in (one connection's), or undefined. */
  deadlineList: object | undefined;
  /** @internal */
  deadlinePrev: TimedStream | undefined;
  /** @internal */
  deadlineNext: TimedStream | undefined;
  /** @internal When it is due, in ticked time (TickClock.elapsed). */
  deadlineAt: number;
  /** @internal */
  deadlineMs: number;
}

/**
 * The client's own end of streams opened with a `timeoutMs`: the deadline travels to the
 * server, which answers Timeout at it, but a server that is hung, stopped or does not enforce
 * it must not hold the stream open for ever. At its deadline a stream is cancelled (so a cancel
 * frame tells the server) and fails with Timeout. Looked through once a tick.
 *
 * A list threaded through the streams, not a Map: a stream per request (a server-streaming
 * method called per call) puts a set and a delete per stream on the connection's table, and a
 * Map so churned keeps young garbage alive through collections (internals/seq-table.ts): short
 * streams with a `timeoutMs` spent ~0.8 µs more each in GC (docs/benchmarks.md, "Short streams").
 */
export class StreamDeadlines {
  private head: TimedStream | undefined = undefined;
  private count = 0;

  constructor(private readonly remote: string) {}

  get size(): number {
    return this.count;
  }

  add(stream: TimedStream, at: number, timeoutMs: number): void {
    // Still in another connection's list (a pool took it elsewhere before that one forgot it): one list at a time.
    if (stream.deadlineList !== undefined) (stream.deadlineList as StreamDeadlines).forget(stream);
    stream.deadlineList = this;
    stream.deadlineAt = at;
    stream.deadlineMs = timeoutMs;
    stream.deadlinePrev = undefined;
    stream.deadlineNext = this.head;
    if (this.head !== undefined) this.head.deadlinePrev = stream;
    this.head = stream;
    this.count++;
  }

  /** The stream left this connection (its answer came): a pool may open it on another, with a deadline of its own there. */
  forget(stream: TimedStream): void {
    if (stream.deadlineList !== this) return;
    const { deadlinePrev: prev, deadlineNext: next } = stream;
    if (prev === undefined) this.head = next;
    else prev.deadlineNext = next;
    if (next !== undefined) next.deadlinePrev = prev;
    stream.deadlineList = stream.deadlinePrev = stream.deadlineNext = undefined;
    this.count--;
  }

  /** Ends every stream due by `now` (ticked time); forgets those that ended on their own. */
  sweep(now: number): void {
    let due: TimedStream[] | undefined;
    for (let s = this.head; s !== undefined; ) {
      const next = s.deadlineNext;
      if (s.isDone) this.forget(s);
      else if (s.deadlineAt <= now) {
        this.forget(s);
        (due ??= []).push(s);
      }
      s = next;
    }
    // Ended after the walk: ending one runs code (a pool's, a reader's) that may end others.
    if (due === undefined) return;
    for (const s of due) {
      // Not opened yet (waiting for the hello's answer): it never reached the server.
      const unsent = s.seq === 0 ? ({ retry: 'safe' } as const) : undefined;
      s.expire(new RpcError(ErrorCode.Timeout, `stream to ${this.remote} not answered within ${s.deadlineMs} ms`, unsent));
    }
  }
}
