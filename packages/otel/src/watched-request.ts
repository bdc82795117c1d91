import { CODE_INFO, EMPTY_BYTES, ErrorCode, RemoteError, RpcError, isErrorCode, type ErrorPayload } from '@skein/core';
import { actionName, type Metadata, type ServerRequest } from '@skein/stream';
import type { CallRecorder, OpenCall } from './call-recorder.js';

/**
 * A ServerRequest as the dispatch sees it, that tells the recorder how the call ended. A Proxy,
 * not a subclass: everything but the three answers and `metadata` (what `metadata()` gives: the
 * server span's trace context in place of the client's) goes to the request itself, so whatever
 * the request learns to do (deadlines, streams) works unchanged through it.
 *
 * The call also ends when nobody waits for its answer any more (the client cancelled it, or its
 * deadline passed): the request's own abort says so, with the reason.
 */
export function watchedRequest(req: ServerRequest, recorder: CallRecorder, call: OpenCall, metadata: () => Metadata): WatchedRequest {
  let ended = false;
  let unhook: (() => void) | undefined;
  // Only a call of its own can end unanswered (cancelled, or past its deadline): a plain call's
  // abort is its connection's, and its handler's answer, written or not, still comes here.
  // Listened to with `onAbort`: reading `req.signal` would make the call an AbortController (a
  // traced call carries a `traceparent`, so it has a head, so a signal of its own to make).
  const own = req.headed;
  const end = (err: unknown, responseBytes: number): void => {
    if (ended) return;
    ended = true;
    unhook?.();
    recorder.end(call, err, responseBytes);
  };
  if (own) unhook = req.onAbort((reason) => end(reason instanceof Error ? reason : new RpcError(ErrorCode.Cancelled), 0));

  // The reply may not be what the client got: one over its limits went out as FrameTooLarge.
  const reply = (msg: Uint8Array = EMPTY_BYTES, blob: Uint8Array = EMPTY_BYTES): ErrorCode | undefined => {
    const first = !req.isAnswered;
    const instead = req.reply(msg, blob);
    if (!first) return instead;
    const err = lostBeforeAnswer(req, own) ?? (instead === undefined ? undefined : notSent(req, instead, `reply of ${msg.length + blob.length} bytes`));
    end(err ?? null, err ? 0 : msg.length + blob.length);
    return instead;
  };
  const fail = (err: RpcError | ErrorCode, detail?: string): void => {
    const first = !req.isAnswered;
    req.fail(err, detail);
    if (!first) return;
    // A code that is none went out as Internal (the request refused it): that is what the client got.
    const code = typeof err === 'number' ? err : (err as RpcError | null)?.code;
    const sent = isErrorCode(code) ? (typeof err === 'number' ? new RpcError(err, detail) : err) : notSent(req, ErrorCode.Internal, `error ${code}`);
    end(lostBeforeAnswer(req, own) ?? sent, 0);
  };
  // Likewise a custom error: one the wire cannot carry went out as a built-in error.
  const failCustom = (payload: ErrorPayload): ErrorCode | undefined => {
    const first = !req.isAnswered;
    const instead = req.failCustom(payload);
    if (!first) return instead;
    const err = lostBeforeAnswer(req, own) ?? (instead === undefined ? undefined : notSent(req, instead, 'custom error'));
    end(err ?? new RemoteError(payload), err || typeof payload === 'number' ? 0 : payload.length);
    return instead;
  };
  const request = new Proxy(req, {
    get(target, prop) {
      if (prop === 'reply') return reply;
      if (prop === 'fail') return fail;
      if (prop === 'failCustom') return failCustom;
      if (prop === 'metadata') return metadata();
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

/** The built-in error an answer was sent as instead (`reply` and `failCustom` say which): the one its client got. */
function notSent(req: ServerRequest, code: ErrorCode, what: string): RpcError {
  return new RpcError(code, `${actionName(req.action)}: ${what} not sent; the call failed with ${CODE_INFO[code].name}`);
}

export interface WatchedRequest {
  /** What the dispatch gets. */
  readonly request: ServerRequest;
  /** Ends the call from outside (a dispatch that threw); only the first end counts. */
  end(err: unknown, responseBytes: number): void;
}
