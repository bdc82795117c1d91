import { ErrorCode, RemoteError, RpcError, type Logger } from '@skein/core';
import { actionName, crashDetail, handlerErrorDetail, speaksToCaller } from '../wire/error-detail.js';
import type { ServerRequest } from './request.js';
import type { WithheldLog } from './withheld-log.js';

/**
 * How `createRouter` answers a handler's failure: an RpcError as that built-in error, a
 * RemoteError as its custom payload, anything else as Internal, logged. One per router.
 */
export class HandlerFailures {
  constructor(
    /** Guarded: a line it cannot write must not stop the answer after it. */
    private readonly logger: Logger,
    /** `RouterOptions.exposeInternalErrors`. */
    private readonly expose: boolean,
    private readonly withheld: WithheldLog,
  ) {}

  answer(req: ServerRequest, err: unknown): void {
    try {
      this.describe(req, err);
    } catch (unreadable) {
      // The error throws when read (a revoked Proxy, an object with no toString): still the
      // handler's failure, not a hung call or, after an await, a rejection nobody handles.
      this.logger.error({ err: unreadable, action: req.action, remote: req.conn.remote }, `${actionName(req.action)}: handler failed with an error that cannot be read`);
      req.fail(ErrorCode.Internal);
    }
  }

  /** The failures counted and not yet summed up would be lost with the server. */
  flush(): void {
    this.withheld.flush();
  }

  private describe(req: ServerRequest, err: unknown): void {
    const name = actionName(req.action);
    if (err instanceof RpcError) {
      this.logWithheld(req, err, name);
      return void req.fail(err, handlerErrorDetail(err, name, this.expose));
    }
    if (err instanceof RemoteError) return void req.failCustom(err.payload);
    // Read before the log line: one that throws is logged once, as unreadable.
    const detail = crashDetail(err, name, this.expose);
    this.logger.error({ err, action: req.action, remote: req.conn.remote }, `${name}: handler failed`);
    req.fail(ErrorCode.Internal, detail);
  }

  // As @skein/api's service dispatch: an error whose words stay on the server without `expose`
  // (a downstream's Unreachable, naming its address) is logged with them, or nobody sees why.
  private logWithheld(req: ServerRequest, err: RpcError, name: string): void {
    if (err.code === ErrorCode.Internal || err.code === ErrorCode.Encode) {
      this.logger.error({ err, action: req.action, remote: req.conn.remote }, `${name} failed`);
    } else if (!req.isAnswered && !speaksToCaller(err)) {
      // Not a call already answered (cancelled, past its deadline): nobody waits for why.
      this.withheld.warn(name, err, { err, action: req.action, remote: req.conn.remote });
    }
  }
}
