import type { PeerIdentity } from '@skein/core';

/**
 * What the pool and its workers say to each other. Calls and replies travel in batches: one
 * message per batch, its bytes in one transferred ArrayBuffer (see request-batch.ts and
 * reply-batch.ts), so a hop costs one postMessage however many calls it carries.
 */

/**
 * A connection as a worker's handlers see it (`ctx`, `req.conn`): sent before its first call to
 * that worker, and again whenever its principal changes (a renewal of its credentials).
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
}

/** Pool → worker: a connection closed; its calls' signals abort. */
export interface ConnClosedMessage {
  readonly t: 'closed';
  readonly key: number;
}

export type ToWorker = CallsMessage | ConnClosedMessage;

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
