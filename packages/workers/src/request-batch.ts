import type { ServerRequest } from '@skein/stream';
import type { ActionTable } from './action-table.js';
import type { CallsMessage } from './messages.js';

/** Header words per call: call id, connection key (the pool's), action, msg length, blob length. */
const CALL_WORDS = 5;
/**
 * The action word: a numeric action as it is (below 2^31 on the wire); a string action by its
 * number in the action table, with bit 31 set; or, past the table's cap, INLINE_NAME, the string
 * then being the batch's next in `names`.
 */
const NAMED = 0x8000_0000;
const INLINE_NAME = 0xffff_ffff;

/**
 * Packs calls into one fresh ArrayBuffer: a u32 header per call, then each call's msg and blob.
 * That is the one copy of a request's bytes: the buffer is then transferred, not cloned (a
 * structured clone copies twice, and copies a view's whole backing chunk, not just the view).
 * String actions are numbered in `table`; `names` receives those past its cap, in order.
 */
export function packCalls(
  reqs: readonly ServerRequest[],
  ids: readonly number[],
  connKeys: readonly number[],
  n: number,
  bytes: number,
  table: ActionTable,
  names: string[],
): ArrayBuffer {
  const headBytes = n * CALL_WORDS * 4;
  const buf = new ArrayBuffer(headBytes + bytes);
  const head = new Uint32Array(buf, 0, n * CALL_WORDS);
  const body = new Uint8Array(buf);
  let at = headBytes;
  for (let i = 0, w = 0; i < n; i++, w += CALL_WORDS) {
    const { msg, blob, actionId } = reqs[i]!;
    head[w] = ids[i]!;
    head[w + 1] = connKeys[i]!;
    head[w + 2] = actionId >= 0 ? actionId : stringAction(reqs[i]!.actionName, table, names);
    head[w + 3] = msg.length;
    head[w + 4] = blob.length;
    body.set(msg, at);
    body.set(blob, (at += msg.length));
    at += blob.length;
  }
  return buf;
}

function stringAction(name: string, table: ActionTable, names: string[]): number {
  const id = table.idOf(name);
  if (id >= 0) return NAMED | id;
  names.push(name);
  return INLINE_NAME;
}

/** Receives one call of a batch; `actionId` is -1 for a string action, as in ServerRequest. */
export type CallSink = (callId: number, connKey: number, actionId: number, name: string, msg: Uint8Array, blob: Uint8Array) => void;

/**
 * Reads a batch packed by `packCalls`; msg and blob are views of the transferred buffer.
 * `actions` is the worker's copy of the pool's action table.
 */
export function unpackCalls(m: CallsMessage, actions: readonly string[], sink: CallSink): void {
  const head = new Uint32Array(m.buf, 0, m.n * CALL_WORDS);
  const body = new Uint8Array(m.buf);
  let at = m.n * CALL_WORDS * 4;
  let nameAt = 0;
  for (let w = 0; w < head.length; w += CALL_WORDS) {
    const action = head[w + 2]!;
    const msgEnd = at + head[w + 3]!;
    const blobEnd = msgEnd + head[w + 4]!;
    const msg = body.subarray(at, msgEnd);
    const blob = body.subarray(msgEnd, blobEnd);
    if (action < NAMED) sink(head[w]!, head[w + 1]!, action, '', msg, blob);
    else sink(head[w]!, head[w + 1]!, -1, action === INLINE_NAME ? m.names[nameAt++]! : actions[action ^ NAMED]!, msg, blob);
    at = blobEnd;
  }
}
