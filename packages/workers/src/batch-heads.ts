import type { Metadata, ServerRequest } from '@skein/stream';
import { sharedNow } from './shared-now.js';

/** Numbers per head: the call's place in its batch, its deadline, its expiresAt. */
const HEAD_WORDS = 3;
/** The expiresAt of a plain call's metadata-only head (see `addPlain`): no headed call has it. */
const PLAIN = NaN;

/**
 * What the calls of a batch that came with a head (docs/protocol.md, "Call head") have beyond a
 * plain one, for the worker: sent only for such calls, with only what the call carried; a call's
 * having one says it can be cancelled (a `CancelMessage` may follow), so its handler gets a signal
 * of its own. The one exception: a plain call with metadata a dispatch in front of the pool gave
 * it (`addPlain`), whose head is that metadata alone and says it is plain (expiresAt NaN). Numbers
 * in one Float64Array, transferred with the batch; metadata only when a call sent some. Not an
 * object per head: their structured clone cost the pool's thread ~1 µs a call, as much as the
 * rest of the hop (docs/benchmarks.md, "Worker pool: calls with a head").
 */
export interface BatchHeads {
  /**
   * Per head, in batch order: its call's place in the batch; its deadline in the server clock's
   * ms, as `req.deadline` (NaN: none); and the same moment on the time line every thread shares
   * (`sharedNow()`), which the worker counts the remaining time by (NaN: a plain call's head).
   */
  readonly numbers: Float64Array;
  /** Per head, its metadata (undefined: none sent); undefined when no head of the batch has any. */
  readonly metadata: (Metadata | undefined)[] | undefined;
}

/** One head as a worker reads it: undefined where the call sent no deadline, or no metadata. */
export interface CallHead {
  readonly deadline: number | undefined;
  readonly expiresAt: number;
  readonly metadata: Metadata | undefined;
  /** A plain call whose only head is the metadata a dispatch in front of the pool gave it (`addPlain`). */
  readonly plain: boolean;
}

/** Gathers a batch's heads as its calls are packed; one per pool, emptied by each `take`. */
export class BatchHeadsBuilder {
  private readonly numbers: number[] = [];
  private metadata: (Metadata | undefined)[] | undefined;

  /** The head of the call at `at` in the batch being packed. */
  add(at: number, req: ServerRequest): void {
    const { deadline, metadata } = req;
    const count = this.numbers.length / HEAD_WORDS;
    if (deadline === undefined) this.numbers.push(at, NaN, 0);
    else this.numbers.push(at, deadline, sharedNow() + req.remainingMs()!);
    this.addMetadata(count, metadata);
  }

  /**
   * A plain call (no head on the wire: it ends only with its connection) whose metadata has
   * entries all the same: a dispatch in front of the pool gave them (@skein/otel's
   * `tracedDispatch` hands on its server span's trace context so). It stays a plain call in the
   * worker, with that metadata.
   */
  addPlain(at: number, metadata: Metadata): void {
    const count = this.numbers.length / HEAD_WORDS;
    this.numbers.push(at, NaN, PLAIN);
    this.addMetadata(count, metadata);
  }

  private addMetadata(count: number, metadata: Metadata): void {
    for (const _ in metadata) {
      (this.metadata ??= new Array<Metadata | undefined>(count).fill(undefined))[count] = metadata;
      return;
    }
    if (this.metadata !== undefined) this.metadata[count] = undefined;
  }

  /** The batch's heads, or undefined when no call had one; the builder is empty after. */
  take(): BatchHeads | undefined {
    if (this.numbers.length === 0) return undefined;
    const heads = { numbers: Float64Array.from(this.numbers), metadata: this.metadata };
    this.numbers.length = 0;
    this.metadata = undefined;
    return heads;
  }
}

/** How many heads `heads` holds. */
export const headCount = (heads: BatchHeads | undefined): number => (heads === undefined ? 0 : heads.numbers.length / HEAD_WORDS);

/** The place in its batch of head `k`. */
export const headPlace = (heads: BatchHeads, k: number): number => heads.numbers[k * HEAD_WORDS]!;

/** Head `k` as a worker reads it. */
export function headAt(heads: BatchHeads, k: number): CallHead {
  const deadline = heads.numbers[k * HEAD_WORDS + 1]!;
  const expiresAt = heads.numbers[k * HEAD_WORDS + 2]!;
  return { deadline: Number.isNaN(deadline) ? undefined : deadline, expiresAt, metadata: heads.metadata?.[k], plain: Number.isNaN(expiresAt) };
}

/** Head `k` alone, at place 0: a call of a batch sent apart. */
export function headAlone(heads: BatchHeads, k: number): BatchHeads {
  const numbers = heads.numbers.slice(k * HEAD_WORDS, (k + 1) * HEAD_WORDS);
  numbers[0] = 0;
  const metadata = heads.metadata?.[k];
  return { numbers, metadata: metadata === undefined ? undefined : [metadata] };
}
