import { RemoteError, RpcError, fromDownstream, type Codec, type Logger } from '@skein/core';
import type { Reply } from '@skein/stream';
import type { AnyMethod } from './define.js';
import { explained, named, undecodableFirstReply } from './error-hints.js';

/** Whether any reply to this client has decoded yet: until one has, a reply that does not is most likely a codec mismatch. */
export interface ReplyState {
  decoded: boolean;
}

/** What a method's replies and errors are read with: made once per method, read per call. */
export interface MethodReplies {
  readonly m: AnyMethod;
  /** `Service.method`, as errors and log lines name the call. */
  readonly action: string;
  readonly codec: Codec;
  /** Its lines are written on the way to a call's outcome: a guarded logger, whose failure stops nothing. */
  readonly logger: Logger;
  /** The client's, shared by its methods. */
  readonly replies: ReplyState;
}

export function decodeReply(r: MethodReplies, reply: Reply): unknown {
  if (reply.msg.length === 0) return undefined; // razor: an empty reply is the unit value
  let value: unknown;
  try {
    value = r.codec.decode(reply.msg);
  } catch (e) {
    throw r.replies.decoded ? e : undecodableFirstReply(r.action, r.codec.name, e);
  }
  if (!r.replies.decoded) r.replies.decoded = true;
  return value;
}

/** What the stub itself refuses or a Caller throws: about this process's call (RpcError.downstream), named. */
export function failed(action: string, e: unknown): unknown {
  return named(fromDownstream(e), action);
}

/** An error from the wire as the caller sees it: the method's own error decoded, or a built-in one explained. */
export function mapError(r: MethodReplies, err: RpcError | RemoteError): unknown {
  const { m, action } = r;
  // Named here, where every error from the wire passes: a bare `rpc_io_err` says nothing of which call failed.
  // Marked (RpcError.downstream) whatever Caller carried it: a handler passing it on does not speak with it.
  if (err instanceof RpcError) return named(explained(fromDownstream(err), action, r.codec.name, r.replies.decoded), action);
  if (!m.errors) return named(err, action);
  try {
    return m.errors.decode(err.payload);
  } catch (e) {
    r.logger.warn({ action, payload: err.payload }, 'undeclared custom error');
    return e instanceof Error ? e : err;
  }
}
