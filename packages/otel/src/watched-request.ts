import { EMPTY_BYTES, ErrorCode, RemoteError, RpcError, type ErrorPayload } from '@skein/core';
import { actionName, type ServerRequest } from '@skein/stream';
import type { CallRecorder, OpenCall } from './call-recorder.js';

/**
 * A ServerRequest as the dispatch sees it, that tells the recorder how the call ended. A Proxy,
 * not a subclass: everything but the three answers goes to the request itself, so whatever the
 * request learns to do (metadata, deadlines, streams) works unchanged through it.
 *
 * The call also ends when nobody waits for its answer any more (the client cancelled it, or its
 * deadline passed): the request's own signal says so, with the reason.
 */
export function watchedRequest(req: ServerRequest, recorder: CallRecorder, call: OpenCall): WatchedRequest {
  let ended = false;
  // Only a call of its own can end unanswered (cancelled, or past its deadline): a plain call's
  // signal is its connection's, and its handler's answer, written or not, still comes here.
  const signal = req.signal;
  const own = signal !== req.conn.signal;
  const end = (err: unknown, responseBytes: number): void => {
    if (ended) return;
    ended = true;
    if (own) signal.removeEventListener('abort', onAbort);
    recorder.end(call, err, responseBytes);
  };
  const onAbort = (): void => end(signal.reason instanceof Error ? signal.reason : new RpcError(ErrorCode.Cancelled), 0);
  if (own) {
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort);
  }

  const reply = (msg: Uint8Array = EMPTY_BYTES, blob: Uint8Array = EMPTY_BYTES): void => {
    const first = !req.isAnswered;
    req.reply(msg, blob);
    if (!first) return;
    const err = lostBeforeAnswer(req, own);
    end(err ?? null, err ? 0 : msg.length + blob.length);
  };
  const fail = (err: RpcError | ErrorCode, detail?: string): void => {
    const first = !req.isAnswered;
    req.fail(err, detail);
    if (first) end(lostBeforeAnswer(req, own) ?? (typeof err === 'number' ? new RpcError(err, detail) : err), 0);
  };
  const failCustom = (payload: ErrorPayload): void => {
    const first = !req.isAnswered;
    req.failCustom(payload);
    if (!first) return;
    const err = lostBeforeAnswer(req, own);
    end(err ?? new RemoteError(payload), err || typeof payload === 'number' ? 0 : payload.length);
  };
  const request = new Proxy(req, {
    get(target, prop) {
      if (prop === 'reply') return reply;
      if (prop === 'fail') return fail;
      if (prop === 'failCustom') return failCustom;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    set: (target, prop, value) => Reflect.set(target, prop, value, target),
  });
  return { request, end };
}

/**
 * A plain call has no signal of its own to end it when its connection goes: its answer still
 * comes to the proxy, and went nowhere. Read at the answer, so a plain call adds no listener.
 */
function lostBeforeAnswer(req: ServerRequest, own: boolean): RpcError | undefined {
  return !own && req.conn.signal.aborted ? new RpcError(ErrorCode.IO, `${actionName(req.action)}: connection lost before the answer`) : undefined;
}

export interface WatchedRequest {
  /** What the dispatch gets. */
  readonly request: ServerRequest;
  /** Ends the call from outside (a dispatch that threw); only the first end counts. */
  end(err: unknown, responseBytes: number): void;
}
