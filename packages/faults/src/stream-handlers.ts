/**
 * A fault server's stream handlers (fault-server.ts): a back's feed, sink and bidi (stream-order.ts
 * says what each does), and a front's relay, which opens the same stream on a back through its
 * FailoverPool and passes items both ways. Each logs its run before its first item (so that a
 * kill after it still shows it ran) and is counted while it runs, and when its signal fires:
 * what `stats` tells a runner about streams left open, and cancels and deadlines that arrived.
 */
import { setTimeout as pause } from 'node:timers/promises';
import { ErrorCode, RpcError } from '@skein/core';
import type { ActionHandler, FailoverPool, ServerRequest, StreamCall } from '@skein/stream';
import type { ExecutionLog } from './execution-log.js';
import { decodeOrder, itemIndex, itemMsg, type StreamOrder } from './stream-order.js';

/** What the stream handlers of one server did: read by `stats`. */
export class StreamTally {
  /** Handlers running now. */
  open = 0;
  /** Handlers whose `req.signal` fired (a cancel, a deadline, a lost connection). */
  signalled = 0;
  /**
   * Handlers that ended with a Timeout before their own signal fired: a relay whose downstream
   * (the back, or the front's own pool timer, both on the same deadline) ran out first.
   */
  timedOut = 0;
  /** Items a sink or bidi read out of order (a gap or a repeat). */
  outOfOrder = 0;
  /** Handlers that returned an answer: a stream cut short (its client gone, cancelled) must never end so. */
  answered = 0;
  /** Handlers that came with a deadline (`req.deadline`): whether a caller's deadline reached this hop. */
  withDeadline = 0;
  /** Blob bytes feeds have written: against what the client read, what credit let through. */
  bytesWritten = 0;
}

export class StreamHandlers {
  readonly tally = new StreamTally();

  constructor(
    private readonly log: ExecutionLog | undefined,
    private readonly backs: FailoverPool | undefined,
  ) {}

  /** A back's handlers, by action. */
  backTable(): Record<string, ActionHandler> {
    return { feed: this.handler(this.feed), sink: this.handler(this.sink), bidi: this.handler(this.bidi) };
  }

  /** A front's: each action relayed to a back under its own name. */
  frontTable(): Record<string, ActionHandler> {
    const relay = this.handler(this.relay);
    return { feed: relay, sink: relay, bidi: relay };
  }

  /** Logs the run, counts it while it runs and when its signal fires. */
  private handler(body: (req: ServerRequest, order: StreamOrder) => Promise<Uint8Array>): ActionHandler {
    return async (req) => {
      const order = decodeOrder(req.msg);
      this.log?.record(String(order.id));
      const t = this.tally;
      const signalled = (): void => void t.signalled++;
      req.signal.addEventListener('abort', signalled, { once: true });
      if (req.deadline !== undefined) t.withDeadline++;
      t.open++;
      try {
        const answer = await body(req, order);
        t.answered++;
        return answer;
      } catch (err) {
        if (!req.signal.aborted && err instanceof RpcError && err.code === ErrorCode.Timeout) t.timedOut++;
        throw err;
      } finally {
        t.open--;
        req.signal.removeEventListener('abort', signalled);
      }
    };
  }

  /**
   * Writes `items` items (for ever when 0), each after `paceMs`: each with a blob of its own, as
   * a real feed's data is, so that what the server holds of unsent items shows in its memory.
   */
  private readonly feed = async (req: ServerRequest, o: StreamOrder): Promise<Uint8Array> => {
    let i = 0;
    for (; o.items <= 0 || i < o.items; i++) {
      if (o.paceMs > 0) await pause(o.paceMs, undefined, { signal: req.signal });
      await req.stream!.write(itemMsg(i), new Uint8Array(o.size));
      this.tally.bytesWritten += o.size;
    }
    return itemMsg(i);
  };

  /** Reads the client's items until it ends, each after `paceMs`; answers their count. */
  private readonly sink = async (req: ServerRequest, o: StreamOrder): Promise<Uint8Array> => {
    let n = 0;
    for await (const item of req.stream!) {
      if (itemIndex(item.msg) !== n) this.tally.outOfOrder++;
      n++;
      if (o.paceMs > 0) await pause(o.paceMs, undefined, { signal: req.signal });
    }
    return itemMsg(n);
  };

  /** Writes each item back as it reads it; answers their count. */
  private readonly bidi = async (req: ServerRequest): Promise<Uint8Array> => {
    let n = 0;
    for await (const item of req.stream!) {
      if (itemIndex(item.msg) !== n) this.tally.outOfOrder++;
      n++;
      await req.stream!.write(item.msg, item.blob);
    }
    return itemMsg(n);
  };

  /**
   * The same stream on a back, items passed both ways; its answer (or error) is the front's.
   * It carries the caller's signal and what is left of its deadline, so that a cancel or a
   * deadline reaches the back.
   */
  private readonly relay = async (req: ServerRequest, o: StreamOrder): Promise<Uint8Array> => {
    if (this.backs === undefined) throw new RpcError(ErrorCode.Internal, 'a back relays nothing');
    const left = req.remainingMs();
    const timeout = left === undefined ? {} : { timeoutMs: Math.max(1, left) };
    const up = this.backs.openStream(o.kind, req.msg, { signal: req.signal, idempotent: o.idempotent, ...timeout });
    if (o.kind !== 'feed') void forward(req, up);
    for await (const item of up) await req.stream!.write(item.msg, item.blob);
    return (await up.result).msg;
  };
}

/** The client's items to the back, then its end; a failure on either side ends the pump (the stream's outcome says why). */
async function forward(req: ServerRequest, up: StreamCall): Promise<void> {
  try {
    for await (const item of req.stream!) await up.write(item.msg, item.blob);
    up.end();
  } catch {
    // The stream ended (answered, cancelled, lost): its result tells the caller.
  }
}
