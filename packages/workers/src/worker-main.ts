/**
 * The entry of every pool worker: loads the module the pool names, then runs the batches of
 * calls it receives through that module's Dispatch, exactly as a server's connection would, and
 * sends the answers of each turn back as one batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ErrorCode } from '@skein/core';
import { ServerRequest, handlerEndToldBy, type Dispatch } from '@skein/stream';
import { HandlersRunningOn } from './handlers-running-on.js';
import { headAt, headCount, headPlace } from './batch-heads.js';
import { describeError } from './describe-error.js';
import type { CallsMessage, CancelMessage, ConnDesc, FromWorker, RepliesMessage, ToWorker, WorkerData } from './messages.js';
import { ReplyPacker } from './reply-batch.js';
import { ReplyHeadsAhead } from './reply-heads-ahead.js';
import { ReverseOutbox } from './reverse-outbox.js';
import { unpackCalls } from './request-batch.js';
import { WorkerConn } from './worker-conn.js';
import { PlainMetadataRequest } from './plain-metadata-request.js';
import { WorkerRequest } from './worker-request.js';
import { loadWorkerModule } from './worker-module.js';
import { markPortClosed } from './port-closed-flag.js';
import { claimBatch, countTaken, lastBatch, nextBatch, takenCounter } from './messages-taken.js';

const port = parentPort!;
const data = workerData as WorkerData;
/** Every message taken off the port is counted where the pool can read it (see messages-taken.ts). */
const taken = takenCounter(data.taken);
const replies = new ReplyPacker();
const conns = new Map<number, WorkerConn>();
/** The pool's action table, as far as it has been sent. */
const actions: string[] = [];
/**
 * The unanswered calls, by call id (the pool's ids are few and dense): what a cancel finds (a call
 * with a head), and what a connection's close answers (a plain call).
 */
const running: (ServerRequest | undefined)[] = [];
let flushQueued = false;
/** The reply metadata of calls with a deadline, sent before their answers at the event-loop turn's end (for the server's own Timeout). */
const ahead = new ReplyHeadsAhead(replies, running, () => queueFlush());
/** The module's dispatch, once loaded: whether it tells when its handlers end. */
let loaded: Dispatch | undefined;
const runningOn = new HandlersRunningOn(
  (req) => loaded !== undefined && handlerEndToldBy(loaded, req),
  () => queueFlush(),
);

const send = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);
const post = (m: RepliesMessage): void => send(m, [m.buf]);
const reverse = new ReverseOutbox(
  (m) => send(m, [m.buf]),
  (err) => send({ t: 'callback-threw', message: describeError(err) }),
);

/** Answers that could not leave (see ReplyPacker.send): the pool is told after the rest of their batch. */
let unsentIds: number[] = [];
let unsentReasons: string[] = [];
const unsent = (callId: number, err: unknown): void => {
  unsentIds.push(callId);
  unsentReasons.push(describeError(err));
};

function flush(): void {
  flushQueued = false;
  // Before the answers: the pool must know a handler runs on before its answer frees the call.
  const handlers = runningOn.take();
  if (handlers !== undefined) send(handlers);
  // Every answer of the turn may have been refused (not bytes): then no batch goes.
  if (replies.count !== 0) replies.send(post, unsent);
  if (unsentIds.length === 0) return;
  send({ t: 'unsent', ids: unsentIds, reasons: unsentReasons });
  unsentIds = [];
  unsentReasons = [];
}

/** Answers written in one turn leave together, after the turn's handlers have run. */
function replyWritten(callId: number): void {
  running[callId] = undefined;
  queueFlush();
}

function queueFlush(): void {
  if (flushQueued) return;
  flushQueued = true;
  queueMicrotask(flush);
}

function connOf(desc: ConnDesc): WorkerConn {
  let c = conns.get(desc.key);
  if (c) c.update(desc);
  else conns.set(desc.key, (c = new WorkerConn(desc, replies, replyWritten, unsent, reverse, runningOn, ahead)));
  if (desc.draining === true) c.drain();
  return c;
}

function run(dispatch: Dispatch, m: ToWorker): void {
  if (m.t === 'calls') return runCalls(dispatch, m);
  if (m.t === 'cancel') return cancel(m);
  if (m.t === 'answers') return reverse.answered(m);
  if (m.t === 'ping') return; // counted as taken: that is all it is for
  if (m.t === 'closing') return serverClosed(dispatch);
  if (m.t === 'draining') return conns.get(m.key)?.drain();
  closed(m.key);
}

/** A server the pool serves closed, or the pool is closing: what the dispatch counted would be lost with this thread. */
function serverClosed(dispatch: Dispatch): void {
  let threw: string | undefined;
  try {
    dispatch.serverClosed?.();
  } catch (err) {
    threw = describeError(err);
  }
  send(threw === undefined ? { t: 'flushed' } : { t: 'flushed', threw });
}

function cancel(m: CancelMessage): void {
  for (let i = 0; i < m.ids.length; i++) {
    const req = running[m.ids[i]!];
    if (req instanceof WorkerRequest) req.cancel(m.codes[i]!, m.messages[i]!);
  }
}

/**
 * A connection closed: its handlers' signals abort. Its plain calls have no signal of their own for
 * the pool to cancel, so they are answered here at once (IO: they may have run; nobody reads it),
 * freeing their places in this worker: a handler that never answers would otherwise hold one for
 * good, where in process it holds nothing once the connection is gone. A handler's later answer
 * is dropped. Calls with a head get the pool's cancel, with the error they have in process.
 */
function closed(key: number): void {
  const conn = conns.get(key);
  if (conn === undefined) return;
  conns.delete(key);
  conn.close();
  for (const req of running) if (req !== undefined && req.conn === conn.info && !(req instanceof WorkerRequest)) req.fail(ErrorCode.IO);
}

function runCalls(dispatch: Dispatch, m: CallsMessage): void {
  // Before any of them runs: should this thread then die or block, the pool knows which batches
  // never reached a handler, and sends their calls to another worker. A claim that fails means
  // the pool has already counted this batch as never taken (it saw this worker exit).
  if (!claimBatch(taken, m.seq)) return;
  for (const d of m.conns ?? []) connOf(d);
  if (m.newActions) for (const a of m.newActions) actions.push(a);
  const heads = m.heads;
  const withHead = headCount(heads);
  let at = 0;
  let k = 0;
  unpackCalls(m, actions, (callId, connKey, actionId, name, msg, blob) => {
    // The pool sends a connection before its first call, and its close after its last.
    const conn = conns.get(connKey) ?? connOf({ key: connKey, id: 0, remote: '', transport: '' });
    const head = k < withHead && headPlace(heads!, k) === at ? headAt(heads!, k++) : undefined;
    at++;
    const req =
      head === undefined
        ? new ServerRequest(conn, callId, 0, actionId, name, msg, blob)
        : head.plain
          ? new PlainMetadataRequest(conn, callId, actionId, name, msg, blob, head.metadata)
          : new WorkerRequest(conn, callId, actionId, name, msg, blob, head, ahead);
    running[callId] = req;
    try {
      dispatch.dispatch(req);
    } catch {
      req.fail(ErrorCode.Internal);
    }
  });
}

/**
 * The port to the pool closed (a handler, or the module as it loaded, called `parentPort.close()`):
 * no answer can leave and no call can come, and a live handle (a timer, a database pool) would
 * keep the thread running deaf, its calls unanswered for good. It ends, first setting the flag
 * that tells the pool why (an exit code cannot: a handler may exit with any); the pool fails the
 * calls it held (they may have run) and replaces it.
 */
const portClosed = (): never => {
  markPortClosed(data.portClosed);
  return process.exit(1);
};
port.once('close', portClosed);
// A message from the pool that cannot be read here (a value this thread cannot rebuild): what it
// said (calls, a cancel, a close) is lost, so the pool is told, and it ends this worker. Were it
// a batch of calls, they count as taken (may have run): sent again, the value that could not be
// read here would end the next worker too, and the next.
port.on('messageerror', (err) => {
  claimBatch(taken, nextBatch(lastBatch(taken)));
  send({ t: 'unreadable', message: describeError(err) });
});

try {
  const dispatch = await loadWorkerModule(data.module);
  loaded = dispatch;
  port.on('message', (m: ToWorker) => {
    // Counted before it runs: a handler that then blocks leaves the pool's next message unread.
    countTaken(taken);
    run(dispatch, m);
  });
  send({ t: 'ready' });
} catch (err) {
  // describeError for a thrown value that is not an Error: String() of it may throw (no string form),
  // which would end this thread as a crash and hide that the module did not load.
  send({ t: 'load-failed', message: err instanceof Error ? err.message : describeError(err) });
  port.off('close', portClosed);
  // Deno's parentPort has no close(): calling it there threw an uncaught TypeError of the pool's
  // own in every worker not yet ended, beside the reason. The pool ends this worker either way.
  if (typeof port.close === 'function') port.close();
}
