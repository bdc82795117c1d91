import { ErrorCode, RpcError } from '@skein/core';
import type { StreamCall } from './stream-call.js';

interface Timed {
  /** In ticked time (TickClock.elapsed). */
  readonly at: number;
  readonly timeoutMs: number;
}

/**
 * The client's own end of streams opened with a `timeoutMs`: the deadline travels to the
 * server, which answers Timeout at it, but a server that is hung, stopped or does not enforce
 * it must not hold the stream open for ever. At its deadline a stream is cancelled (so a cancel
 * frame tells the server) and fails with Timeout. Streams are few next to calls: a set looked
 * through once a tick, pruned of the ones that ended meanwhile, is enough.
 */
export class StreamDeadlines {
  private readonly timed = new Map<StreamCall, Timed>();

  constructor(private readonly remote: string) {}

  get size(): number {
    return this.timed.size;
  }

  add(stream: StreamCall, at: number, timeoutMs: number): void {
    this.timed.set(stream, { at, timeoutMs });
  }

  /** The stream left this connection (its answer came): a pool may open it on another, with a deadline of its own there. */
  forget(stream: StreamCall): void {
    this.timed.delete(stream);
  }

  /** Ends every stream due by `now` (ticked time); forgets those that ended on their own. */
  sweep(now: number): void {
    for (const [stream, t] of this.timed) {
      if (stream.isDone) {
        this.timed.delete(stream);
      } else if (t.at <= now) {
        this.timed.delete(stream);
        // Not opened yet (waiting for the hello's answer): it never reached the server.
        const unsent = stream.seq === 0 ? ({ retry: 'safe' } as const) : undefined;
        stream.expire(new RpcError(ErrorCode.Timeout, `stream to ${this.remote} not answered within ${t.timeoutMs} ms`, unsent));
      }
    }
  }
}
