import type { ErrorCode, PeerIdentity } from '@skein/core';
import type { ConnKind, Metadata } from '@skein/stream';
import type { BatchHeads } from './batch-heads.js';
import type { MessagesTaken } from './messages-taken.js';
import type { PortClosedFlag } from './port-closed-flag.js';

/**
 * What the pool and its workers say to each other. Calls and replies travel in batches: one
 * message per batch, its bytes in one transferred ArrayBuffer (see request-batch.ts and
 * reply-batch.ts), so a hop costs one postMessage however many calls it carries.
 */

/** What a worker is started with (`workerData`). */
export interface WorkerData {
  /** The module's URL. */
  readonly module: string;
  /** Set by the worker when its port to the pool closed, just before it exits. */
  readonly portClosed: PortClosedFlag;
  /** Counted up by the worker per message it takes off its port, with the number of the last batch of calls it took (see messages-taken.ts). */
  readonly taken: MessagesTaken;
}

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
  /**
   * The connection agreed calls both ways (it has a `caller`): the worker's handlers get a caller
   * that sends their calls through the pool (`ReverseCallsMessage`). Absent otherwise, and
   * `ctx.caller` is undefined, as in process. Set at the hello, before any call: it never changes.
   */
  readonly callsBack?: true;
  /**
   * With `callsBack`: the connection's caller's default timeout (`Caller.timeoutMs`, the server's
   * `reverseCalls.timeoutMs`), which the worker's caller reports, so that @skein/api bounds a
   * client filter's wait for a call given no timeout by it, as in process. Sent with the
   * connection, never per call; absent when that caller has none.
   */
  readonly callerTimeoutMs?: number;
  /**
   * The largest reply head its client reads (`ServerRequest.replyMetadataRoom`: the hello fixed
   * it), so that a handler's `setReplyMetadata` is checked in the worker as in process; absent: 0,
   * the client reads none, and what a handler sets is dropped unsaid.
   */
  readonly replyMetadataRoom?: number;
  /** Its server began to close before the worker was told of it: `conn.draining` is aborted from the start. */
  readonly draining?: true;
}

/** Pool → worker: a batch of calls. */
export interface CallsMessage {
  readonly t: 'calls';
  /** The batch's number (1 up per worker, wrapping at 2^31): the worker claims it as it takes the batch (see messages-taken.ts). */
  readonly seq: number;
  readonly n: number;
  readonly buf: ArrayBuffer;
  /** Action table entries the worker has not been sent yet, in order (see action-table.ts). */
  readonly newActions: readonly string[] | undefined;
  /** The batch's string actions past the table's cap, in order. */
  readonly names: readonly string[];
  /** Connections first seen by this worker in this batch. */
  readonly conns: readonly ConnDesc[] | undefined;
  /** The heads of the batch's calls that came with one (transferred with it); undefined when none did. */
  readonly heads: BatchHeads | undefined;
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

/** Pool → worker: a connection's server began to close; its handlers' `conn.draining` aborts. */
export interface ConnDrainingMessage {
  readonly t: 'draining';
  readonly key: number;
}

/** A batch of answers: its bytes in one transferred buffer (see reply-batch.ts). */
export interface AnswerBatch {
  readonly n: number;
  /** The answers' bytes from 0, then their header words from `headAt`. */
  readonly buf: ArrayBuffer;
  readonly headAt: number;
  /** Error details and messages, referenced by index from the batch. */
  readonly strings: readonly string[];
}

/**
 * Pool → worker: the outcomes of the worker's reverse calls (`ReverseCallsMessage`) that settled
 * in one turn of the pool, by the worker's reverse call id: a reply, an RpcError (code, message,
 * retry), or a custom error payload, as the connection's caller gave them.
 */
export interface ReverseAnswersMessage extends AnswerBatch {
  readonly t: 'answers';
  /**
   * Calls for a connection the pool no longer has (it closed before the call reached the pool):
   * the worker fails them as a closed connection's caller does, naming the connection it knows.
   */
  readonly gone: readonly number[] | undefined;
}

/**
 * Pool → worker: nothing to do. Sent, at the StallWatch's coarse ticks, to a worker that holds
 * calls and has read everything else: it counts as taken, like any message, which shows that the
 * worker still reads its port (see stall-watch.ts).
 */
export interface PingMessage {
  readonly t: 'ping';
}

/**
 * Pool → worker: a server the pool serves closed (`Dispatch.serverClosed`), or the pool itself is
 * closing, its calls all answered, before it ends the worker: the worker's dispatch says what it
 * counted and has not logged yet (a WithheldLog's counts), then the worker answers `FlushedMessage`.
 */
export interface ClosingMessage {
  readonly t: 'closing';
}

export type ToWorker = CallsMessage | ConnClosedMessage | ConnDrainingMessage | CancelMessage | ReverseAnswersMessage | PingMessage | ClosingMessage;

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
export interface RepliesMessage extends AnswerBatch {
  readonly t: 'replies';
}

/**
 * Worker → pool: answers that could not leave the worker (a handler answered with something that
 * is not bytes or no error code, as its request found, or a detail that cannot be cloned), by
 * call id, with why. Their handlers ran: the pool fails those calls Internal. The other answers
 * of their batch were sent.
 */
export interface UnsentRepliesMessage {
  readonly t: 'unsent';
  readonly ids: readonly number[];
  readonly reasons: readonly string[];
}

/** What a reverse call carries besides its bytes: only for calls whose options said any of it. */
export interface ReverseCallOpts {
  /** The call's place in its batch. */
  readonly at: number;
  /** As the handler gave it (`{ ctx }` made it what was left of the deadline, counted in the worker). */
  readonly timeoutMs?: number;
  readonly idempotent?: boolean;
  readonly metadata?: Metadata;
  /** It has a signal: a cancel may follow. */
  readonly cancellable?: true;
  /** Its signal had aborted when it was made: the pool's caller fails it as it fails such a call. */
  readonly aborted?: true;
}

/**
 * Worker → pool: the calls its handlers made through `ctx.caller` (calls both ways: to services
 * the connection's other side serves) in one turn, and the ones whose signal aborted since. The
 * pool sends each on the real connection's caller and answers in a `ReverseAnswersMessage`.
 * Bytes as in a batch of calls: one transferred buffer (see reverse-call-batch.ts).
 */
export interface ReverseCallsMessage {
  readonly t: 'reverse';
  readonly n: number;
  readonly buf: ArrayBuffer;
  /** Each call's action, in order, as the handler gave it. */
  readonly actions: readonly (string | number)[];
  /** The options of the calls that had any beyond `blob`, in batch order; undefined when none did. */
  readonly opts: readonly ReverseCallOpts[] | undefined;
  /** Reverse call ids (sent in this batch or an earlier one) whose signal aborted. */
  readonly cancels: readonly number[] | undefined;
}

/**
 * Worker → pool: a callback given to `ctx.caller.send` threw when its call was answered (a bug
 * in the handler's code). The worker goes on; the pool logs it.
 */
export interface CallbackThrewMessage {
  readonly t: 'callback-threw';
  readonly message: string;
}

/**
 * Worker → pool: a message from the pool could not be read here (`messageerror`: it held a value
 * this thread cannot rebuild). What it said is lost, so the pool ends the worker and fails the
 * calls it held (they may have run).
 */
export interface UnreadableMessage {
  readonly t: 'unreadable';
  readonly message: string;
}

/**
 * Worker → pool: handlers that run on past their call's answer, and the ends of such handlers,
 * in one turn (sent before that turn's answers), so that the server counts them against their
 * connections as it counts its own loop's (`Dispatch.tellsHandlerEndOf`). Only from a worker
 * whose dispatch tells when its handlers end. `ids[i]`: a call the worker is about to answer (a
 * cancel, its handler timeout) whose handler runs on, known from then on by `tokens[i]`, a number
 * of the worker's own (the call id goes to another call once answered); `ended`: the tokens of
 * such handlers that have ended since.
 */
export interface HandlerEndsMessage {
  readonly t: 'handlers';
  readonly ids: readonly number[];
  readonly tokens: readonly number[];
  readonly ended: readonly number[];
}

/** Worker → pool: its dispatch heard a `ClosingMessage` (`threw`: its `serverClosed` threw that). */
export interface FlushedMessage {
  readonly t: 'flushed';
  readonly threw?: string;
}

export type FromWorker = FlushedMessage | HandlerEndsMessage | ReadyMessage | LoadFailedMessage | RepliesMessage | UnsentRepliesMessage | ReverseCallsMessage | CallbackThrewMessage | UnreadableMessage;
