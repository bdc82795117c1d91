/**
 * The client's side of one stream in a stream scenario (streams.ts): reads the server's items and
 * writes its own, as its kind asks, and keeps what it saw: the items' indices in the order they
 * came, how many it wrote, and how the stream ended.
 */
import { sleep } from '@skein/test-utils';
import type { Reply, StreamCall } from '@skein/stream';
import { itemIndex, itemMsg, type StreamKind } from './stream-order.js';

export class StreamDrive {
  /** Indices of the items read, in arrival order. */
  readonly received: number[] = [];
  written = 0;
  reply: Reply | undefined;
  error: unknown;
  /** When the stream settled (ms, `performance.now()`), once it has. */
  settledAt: number | undefined;
  /** Settles when the stream has: never rejects. */
  readonly done: Promise<void>;

  constructor(
    readonly stream: StreamCall,
    readonly kind: StreamKind,
    /** Items the client writes (sink, bidi), one each `paceMs`. */
    private readonly items: number,
    private readonly paceMs: number,
    /** Read this many items, then stop reading (a slow reader); Infinity reads them all. */
    private readonly readLimit = Infinity,
  ) {
    const reading = kind === 'sink' ? undefined : this.read();
    const writing = kind === 'feed' ? undefined : this.write();
    const settled = (): void => void (this.settledAt = performance.now());
    stream.result.then(
      (r) => ((this.reply = r), settled()),
      (e: unknown) => ((this.error = e), settled()),
    );
    this.done = Promise.allSettled([stream.result, reading, writing]).then(() => {});
  }

  /** Items of the exchange so far: written for a sink, read for the others. */
  get progress(): number {
    return this.kind === 'sink' ? this.written : this.received.length;
  }

  get settled(): boolean {
    return this.settledAt !== undefined;
  }

  /** The items read are 0, 1, 2, ... with none twice and none skipped. */
  get inOrder(): boolean {
    return this.received.every((n, i) => n === i);
  }

  private async read(): Promise<void> {
    const it = this.stream[Symbol.asyncIterator]();
    try {
      while (this.received.length < this.readLimit) {
        const next = await it.next();
        if (next.done) return;
        this.received.push(itemIndex(next.value.msg));
      }
    } catch {
      // The stream's end: `result` says how.
    }
  }

  private async write(): Promise<void> {
    try {
      for (let i = 0; i < this.items; i++) {
        if (this.paceMs > 0) await sleep(this.paceMs);
        if (this.stream.isDone) return;
        await this.stream.write(itemMsg(i));
        this.written++;
      }
      this.stream.end();
    } catch {
      // A write after the stream ended: its outcome is `result`'s.
    }
  }
}
