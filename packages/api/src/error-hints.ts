import { ErrorCode, RemoteError, RpcError, withoutStack } from '@skein/core';
import { withFramesOf } from './frames-of.js';

// What a typed client adds to an error it gets: the method it called, which a bare
// razor-compatible answer cannot carry, and the likely cause where there is one.

/**
 * A built-in error from the server, explained where the bare answer says too little: a method
 * or service not found (usually a client built from a newer definition than the server), or an
 * argument the server could not decode before any reply decoded here (usually another codec).
 * Any other error is returned as it is.
 */
export function explained(err: RpcError, action: string, codec: string, anyReplyDecoded: boolean): RpcError {
  if (err.message !== err.wire) return err;
  switch (err.code) {
    case ErrorCode.Method:
      return withMessage(err, `${action}: no such method on the server (${err.wire})`);
    case ErrorCode.Service:
      return withMessage(err, `${action}: no such service on the server (${err.wire})`);
    case ErrorCode.Decode:
      if (anyReplyDecoded) return err;
      return withMessage(err, `${action}: the server could not decode the argument (${err.wire}), and no reply to this client has decoded yet: does the server use ${codec} too?`);
    default:
      return err;
  }
}

/**
 * A reply that does not decode before any has: the server most likely speaks another codec (or
 * the peer is no Skein server at all), which the message says rather than a bare decode error.
 */
export function undecodableFirstReply(action: string, codec: string, e: unknown): RpcError {
  const why = e instanceof Error ? e.message : String(e);
  return new RpcError(
    ErrorCode.Decode,
    `${action}: the first reply this client got does not decode with ${codec} (${why}): does the server use the same codec, and is the peer a Skein server on the same transport?`,
    { cause: e },
  );
}

/**
 * A built-in error (or an undeclared remote one) as a stub raises it: with the method in front of its message
 * (`Calculator.add: rpc_io_err`), so that a log line says which call failed. A new error, with
 * the same code, retry and cause (and any other field a client set on it): the one given may be
 * shared (a pool fails every call waiting for a connection with one refusal), so it is never
 * changed. Made on failure only, with the stack the one given had (`withFramesOf`): none for an
 * error that settled many calls at once, which a stack per copy made slow. Anything else (the
 * method's own errors, a filter's, an RpcError subclass: see `ownClass`), and an error naming
 * the method already, is returned as it is. An empty message (a Caller's `new RpcError(code, '')`)
 * reads as the code's wire string, as one from the wire with no words does: no dangling colon.
 */
export function named(err: unknown, action: string): unknown {
  if (err instanceof RemoteError) return withFramesOf(err, Object.assign(withoutStack(() => new RemoteError(err.payload)), { message: `${action}: ${err.message}` }));
  if (!(err instanceof RpcError) || ownClass(err) || namesAction(err.message, action)) return err;
  // Its own fields copied over (code, retry, and any other a client set on it): only the message differs.
  return withFramesOf(err, Object.assign(withoutStack(() => new RpcError(err.code, `${action}: ${err.message || err.wire}`, { cause: err.cause, retry: err.retry })), err));
}

/**
 * An RpcError subclass (an application's Caller may fail calls with its own, which its code
 * tells by `instanceof`) is handed on as the very object, unnamed: no copy can be one of its
 * class, as a subclass's private fields (`#x`) and brand checks are made only by its
 * constructor, so a copy's getters and methods would throw where `instanceof` let them run.
 */
const ownClass = (err: RpcError): boolean => Object.getPrototypeOf(err) !== RpcError.prototype;

const namesAction = (message: string, action: string): boolean => message.startsWith(action) && message.charCodeAt(action.length) === COLON;
const COLON = 0x3a;

const withMessage = (err: RpcError, message: string): RpcError =>
  ownClass(err) ? err : withFramesOf(err, withoutStack(() => new RpcError(err.code, message, { cause: err, retry: err.retry })));
