import type { FailoverPoolOptions } from '@skein/stream';
import type { StreamOrder } from './stream-order.js';

/**
 * What a stream client child (stream-client.ts) is told, as JSON in its one argument, and the
 * lines it prints: the runner (streams.ts, slow-reader.ts) and the child share this file.
 */
export interface StreamClientParams {
  readonly servers: readonly string[];
  readonly pool: Omit<FailoverPoolOptions, 'transport' | 'servers' | 'clock' | 'logger'>;
  readonly order: StreamOrder;
  /** The stream's own timeout (its deadline on every hop); none when left out. */
  readonly timeoutMs?: number;
  /** Items the client writes (sink, bidi), one each `order.paceMs`. */
  readonly items: number;
  /** Items read before the client stops reading (a slow reader); all when left out. */
  readonly readLimit?: number;
}

/** What it saw, on its `ended` line. */
export interface StreamClientResult {
  readonly received: number;
  readonly inOrder: boolean;
  readonly written: number;
  /** The error's code name and retry, or undefined for a reply. */
  readonly code?: string;
  readonly retry?: string;
  readonly message?: string;
}

/** Printed once the stream is open and each time it made progress (items read, or written for a sink). */
export const STREAM_PROGRESS = /^progress (\d+)$/;
/** Printed once the stream ended: a StreamClientResult as JSON. */
export const STREAM_ENDED = /^ended (.*)$/;
