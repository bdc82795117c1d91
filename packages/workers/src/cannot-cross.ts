import { ErrorCode, type Logger } from '@skein/core';
import { actionName, type ServerRequest } from '@skein/stream';
import { headAlone, headCount, headPlace, type BatchHeads } from './batch-heads.js';
import type { ConnDesc, UnsentRepliesMessage } from './messages.js';
import type { ConnSeen, WorkerSlot } from './worker-slot.js';

/*
 * Values that cannot cross to or from a worker thread (one that cannot be cloned, or an answer
 * that is not bytes) cost only the calls at fault: the rest of their batch goes on. Functions of
 * the pool, out of its file because no call's path comes here: they run only after postMessage
 * threw, or when a worker says an answer could not leave it.
 */

/** What the calls that cannot cross need of the pool. */
export interface CrossLink {
  readonly logger: Logger;
  readonly expose: boolean;
  /** Packs calls into one message and posts it to the worker; throws what postMessage throws (nothing is then sent). */
  post(slot: WorkerSlot, reqs: readonly ServerRequest[], ids: readonly number[], keys: readonly number[], n: number, bytes: number, conns: ConnDesc[] | undefined, heads: BatchHeads | undefined): void;
  /** Frees the id of a call that was never posted. */
  unbook(id: number, req: ServerRequest): ServerRequest;
  /** Takes an answered call off the books; undefined if it is no longer held. */
  release(id: number): ServerRequest | undefined;
}

/**
 * A batch that could not be posted (a value in it that cannot be cloned: a request's metadata
 * or principal, as a Dispatch in front of the pool made them) goes again one call at a time, so
 * that only the calls at fault are lost. Those never reached the worker and never ran: they
 * fail InvalidArgument saying so, and are answered once the others are sent.
 *
 * `reqs`, `ids` and `keys` are the batch's calls, their ids and their connections' keys; `conns`
 * the connections described in it, and `known` what the worker knew of those described again.
 */
export function sendApart(link: CrossLink, slot: WorkerSlot, reqs: readonly ServerRequest[], ids: readonly number[], keys: readonly number[], conns: ConnDesc[] | undefined, heads: BatchHeads | undefined, known: Map<number, ConnSeen> | undefined): void {
  // A connection goes with the first of its calls that is sent.
  const untold = new Map((conns ?? []).map((d) => [d.key, d]));
  const lost: [ServerRequest, unknown][] = [];
  const withHead = headCount(heads);
  for (let i = 0, k = 0; i < reqs.length; i++) {
    const head = k < withHead && headPlace(heads!, k) === i ? headAlone(heads!, k++) : undefined;
    const desc = untold.get(keys[i]!);
    const req = reqs[i]!;
    try {
      link.post(slot, [req], [ids[i]!], [keys[i]!], 1, req.msg.length + req.blob.length, desc && [desc], head);
      untold.delete(keys[i]!);
    } catch (err) {
      lost.push([link.unbook(ids[i]!, req), err]);
    }
  }
  // Their new description did not go: described again with their next call. One the worker
  // knew from an earlier batch stays known, so that its close still reaches the worker (and
  // frees the places of its hung plain calls there).
  for (const key of untold.keys()) {
    const before = known?.get(key);
    if (before === undefined) slot.conns.delete(key);
    else slot.conns.set(key, before);
  }
  for (const [req, err] of lost) {
    const name = actionName(req.action);
    const why = err instanceof Error ? `${err.name}: ${err.message}` : 'postMessage threw';
    link.logger.error({ worker: slot.index, action: req.action, err }, `${name}: a call could not be sent to worker ${slot.index} (${why}); it failed unrun`);
    req.fail(ErrorCode.InvalidArgument, `${name}: the call could not be sent to a worker thread (${why}); its handler did not run`);
  }
}

/**
 * Answers a worker could not send back: their handlers ran, and what they answered is lost, so
 * the calls fail Internal (no retry: the same handler would answer the same). Logged, since it is
 * a bug in the handler's code.
 */
export function failUnsent(link: CrossLink, slot: WorkerSlot, m: UnsentRepliesMessage): void {
  for (let i = 0; i < m.ids.length; i++) {
    const req = link.release(m.ids[i]!);
    if (req === undefined) continue;
    const name = actionName(req.action);
    link.logger.error({ worker: slot.index, action: req.action }, `${name}: worker ${slot.index} could not send the handler's answer back (${m.reasons[i]}); the call failed Internal`);
    req.fail(ErrorCode.Internal, link.expose ? `${name}: the handler ran, but its answer could not leave worker ${slot.index}: ${m.reasons[i]}` : undefined);
  }
}
