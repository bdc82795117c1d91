/**
 * The entry of every pool worker: loads the module the pool names, then runs the batches of
 * calls it receives through that module's Dispatch, exactly as a server's connection would, and
 * sends the answers of each turn back as one batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ErrorCode } from '@skein/core';
import { ServerRequest, type Dispatch } from '@skein/stream';
import type { CallsMessage, CancelMessage, ConnDesc, FromWorker, ToWorker } from './messages.js';
import { ReplyPacker } from './reply-batch.js';
import { ReverseOutbox } from './reverse-outbox.js';
import { unpackCalls } from './request-batch.js';
import { WorkerConn } from './worker-conn.js';
import { WorkerRequest } from './worker-request.js';
import { loadWorkerModule } from './worker-module.js';

const port = parentPort!;
const replies = new ReplyPacker();
const conns = new Map<number, WorkerConn>();
/** The pool's action table, as far as it has been sent. */
const actions: string[] = [];
/** The unanswered calls that came with a head, by call id: what a cancel finds. */
const cancellable = new Map<number, WorkerRequest>();
let flushQueued = false;

const send = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);
const reverse = new ReverseOutbox(
  (m) => send(m, [m.buf]),
  (err) => send({ t: 'callback-threw', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
);

function flush(): void {
  flushQueued = false;
  const m = replies.take();
  send(m, [m.buf]);
}

/** Answers written in one turn leave together, after the turn's handlers have run. */
function replyWritten(callId: number): void {
  if (cancellable.size !== 0) cancellable.delete(callId);
  if (flushQueued) return;
  flushQueued = true;
  queueMicrotask(flush);
}

function connOf(desc: ConnDesc): WorkerConn {
  let c = conns.get(desc.key);
  if (c) c.update(desc);
  else conns.set(desc.key, (c = new WorkerConn(desc, replies, replyWritten, reverse)));
  return c;
}

function run(dispatch: Dispatch, m: ToWorker): void {
  if (m.t === 'calls') return runCalls(dispatch, m);
  if (m.t === 'cancel') return cancel(m);
  if (m.t === 'answers') return reverse.answered(m);
  conns.get(m.key)?.close();
  conns.delete(m.key);
}

function cancel(m: CancelMessage): void {
  for (let i = 0; i < m.ids.length; i++) cancellable.get(m.ids[i]!)?.cancel(m.codes[i]!, m.messages[i]!);
}

function runCalls(dispatch: Dispatch, m: CallsMessage): void {
  for (const d of m.conns ?? []) connOf(d);
  if (m.newActions) for (const a of m.newActions) actions.push(a);
  const heads = m.heads;
  let at = 0;
  let nextHead = 0;
  unpackCalls(m, actions, (callId, connKey, actionId, name, msg, blob) => {
    // The pool sends a connection before its first call, and its close after its last.
    const conn = conns.get(connKey) ?? connOf({ key: connKey, id: 0, remote: '', transport: '' });
    const head = heads !== undefined && heads[nextHead]?.at === at ? heads[nextHead++] : undefined;
    at++;
    let req: ServerRequest;
    if (head === undefined) req = new ServerRequest(conn, callId, 0, actionId, name, msg, blob);
    else cancellable.set(callId, (req = new WorkerRequest(conn, callId, actionId, name, msg, blob, head)));
    try {
      dispatch.dispatch(req);
    } catch {
      req.fail(ErrorCode.Internal);
    }
  });
}

try {
  const dispatch = await loadWorkerModule((workerData as { module: string }).module);
  port.on('message', (m: ToWorker) => run(dispatch, m));
  send({ t: 'ready' });
} catch (err) {
  send({ t: 'load-failed', message: err instanceof Error ? err.message : String(err) });
  port.close();
}
