import type { ErrorCode, PeerIdentity } from '@skein/core';
import type { ConnKind, Metadata } from '@skein/stream';

/**
 * What the pool and its workers say to each other. Calls and replies travel in batches: one
 * message per batch, its bytes in one transferred ArrayBuffer (see request-batch.ts and
 * reply-batch.ts), so a hop costs one postMessage however many calls it carries.
 */

/**
 * A connection as a worker's handlers see it (`ctx`, `req.conn`): sent before its first call to
 * that worker, and again whenever its principal or kind changes (a renewal of its credentials,
 * a client admitted as a peer once it authenticated).
 */
export interface ConnDesc {
  /** The pool's number for the connection: ids are unique per server only. */
  readonly key: number;
  /** The server's id for it (`ctx.connectionId`). */
  readonly id: number;
  readonly remote: string;
  readonly transport: string;
  /** A structured clone of the server's; undefined when it cannot be cloned (the pool warns). */
  readonly principal?: unknown;
  readonly identity?: PeerIdentity;
  /** Peer or client, as the server's `peers.admit` decided; undefined on a server without `peers`. */
  readonly kind?: ConnKind;
}

/**
 * What a call that came with a head (docs/protocol.md, "Call head") has beyond a plain one, for
 * the worker: sent only for such calls, with only what the call carried. Its presence alone says
 * the call can be cancelled (a `CancelMessage` may follow), so its handler gets a signal of its own.
 */
export interface CallHeadDesc {
  /** The call's place in its batch. */
  readonly at: number;
  /** In the server clock's ms, as `req.deadline` (the clock is the server's: only its thread reads it). */
  readonly deadline?: number;
  /**
   * The same moment on a time line every thread of the process shares (`sharedNow()`): what the
   * worker counts the remaining time by. Set with `deadline`.
   */
  readonly expiresAt?: number;
  /** Only when the call sent some. */
  readonly metadata?: Metadata;
}

/** Pool → worker: a batch of calls. */
export interface CallsMessage {
  readonly t: 'calls';
  readonly n: number;
  readonly buf: ArrayBuffer;
  /** Action table entries the worker has not been sent yet, in order (see action-table.ts). */
  readonly newActions: readonly string[] | undefined;
  /** The batch's string actions past the table's cap, in order. */
  readonly names: readonly string[];
  /** Connections first seen by this worker in this batch. */
  readonly conns: readonly ConnDesc[] | undefined;
  /** The heads of the batch's calls that came with one, in batch order; undefined when none did. */
  readonly heads: readonly CallHeadDesc[] | undefined;
}

/**
 * Pool → worker: calls it holds stopped being waited for (the client cancelled, the deadline
 * passed, the connection closed). Their signals abort with the same error as on the server's
 * thread; the worker answers each at once, so that the pool frees its slot, and drops whatever
 * the handler answers later. Gathered per turn: a connection closing under many calls sends one.
 */
export interface CancelMessage {
  readonly t: 'cancel';
  readonly ids: number[];
  readonly codes: ErrorCode[];
  readonly messages: string[];
}

/** Pool → worker: a connection closed; its calls' signals abort. */
export interface ConnClosedMessage {
  readonly t: 'closed';
  readonly key: number;
}

export type ToWorker = CallsMessage | ConnClosedMessage | CancelMessage;

/** Worker → pool: the module loaded, calls may come. */
export interface ReadyMessage {
  readonly t: 'ready';
}

/** Worker → pool: the module did not load; the worker exits. */
export interface LoadFailedMessage {
  readonly t: 'load-failed';
  readonly message: string;
}

/** Worker → pool: a batch of answers. */
export interface RepliesMessage {
  readonly t: 'replies';
  readonly n: number;
  readonly buf: ArrayBuffer;
  /** Error details and custom error strings, referenced by index from the batch. */
  readonly strings: readonly string[];
}

export type FromWorker = ReadyMessage | LoadFailedMessage | RepliesMessage;
