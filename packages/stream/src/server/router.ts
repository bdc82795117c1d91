import { ErrorCode, RemoteError, RpcError, silentLogger, type Logger } from '@skein/core';
import type { Reply } from '../client/call.js';
import type { Dispatch } from './dispatch.js';
import { errorDetail } from '../wire/error-detail.js';
import type { ServerRequest } from './request.js';

/** What a handler may return: bytes for the msg, a Reply for msg and blob, or nothing. */
export type ActionResult = Uint8Array | Reply | void;
export type ActionHandler = (req: ServerRequest) => ActionResult | Promise<ActionResult>;

/**
 * A Dispatch from a table of actions, for the stream layer: numeric actions (your own task enum)
 * and/or strings. An unknown action is answered with a Method error. A handler's RpcError is
 * sent as that built-in error, a RemoteError as its custom payload, anything else as Internal
 * (and logged).
 */
export function createRouter(table: Record<string | number, ActionHandler>, logger: Logger = silentLogger): Dispatch {
  const handlers = new Map<string | number, ActionHandler>();
  for (const [k, h] of Object.entries(table)) handlers.set(/^\d+$/.test(k) ? Number(k) : k, h);
  return {
    dispatch(req) {
      const handler = handlers.get(req.action);
      if (!handler) return req.fail(ErrorCode.Method);
      let out: ActionResult | Promise<ActionResult>;
      try {
        out = handler(req);
      } catch (err) {
        return answerError(req, err, logger);
      }
      if (out instanceof Promise) out.then((r) => answer(req, r), (err) => answerError(req, err, logger));
      else answer(req, out);
    },
  };
}

function answer(req: ServerRequest, r: ActionResult): void {
  if (r === undefined) req.reply();
  else if (r instanceof Uint8Array) req.reply(r);
  else req.reply(r.msg, r.blob);
}

function answerError(req: ServerRequest, err: unknown, logger: Logger): void {
  if (err instanceof RpcError) return req.fail(err, errorDetail(err));
  if (err instanceof RemoteError) return req.failCustom(err.payload);
  logger.error({ err, action: req.action, remote: req.conn.remote }, 'handler failed');
  req.fail(ErrorCode.Internal);
}
