import { ErrorCode, RpcError, type Logger } from '@skein/core';
import type { ServerRequest } from '@skein/stream';

/** What a handler knows about its call besides the argument. */
export class CallContext {
  private controller: AbortController | undefined;
  private unlink: (() => void) | undefined;
  /** @internal The timeout sweep's tick count when the call started. */
  sweepTick = 0;

  constructor(
    private readonly req: ServerRequest,
    readonly service: string,
    readonly method: string,
    readonly logger: Logger,
  ) {}

  /** The peer's address, e.g. `127.0.0.1:51234` or `unix:/tmp/x.sock`. */
  get peer(): string {
    return this.req.conn.remote;
  }

  /** The connection's id, unique per server. */
  get connectionId(): number {
    return this.req.conn.id;
  }

  /** The transport's name: `tcp`, `ws`... */
  get transport(): string {
    return this.req.conn.transport;
  }

  /** The request's blob section, for peers that send bulk bytes beside the argument. */
  get blob(): Uint8Array {
    return this.req.blob;
  }

  /**
   * Fires when the connection closes (nobody is left to receive the answer) or the call passes
   * the server's `handlerTimeoutMs`. Made on first access, so handlers that never look pay nothing.
   */
  get signal(): AbortSignal {
    if (!this.controller) {
      const c = (this.controller = new AbortController());
      const conn = this.req.conn.signal;
      if (conn.aborted) c.abort(conn.reason);
      else {
        const onAbort = (): void => c.abort(new RpcError(ErrorCode.IO, 'connection closed'));
        conn.addEventListener('abort', onAbort, { once: true });
        this.unlink = () => conn.removeEventListener('abort', onAbort);
      }
    }
    return this.controller.signal;
  }

  /** @internal The call ran past the server's handler timeout: abort it and answer Timeout. */
  timeOut(): void {
    const err = new RpcError(ErrorCode.Timeout, `${this.service}.${this.method} ran too long`);
    this.controller?.abort(err);
    this.req.fail(err);
  }

  /** @internal The call is answered: stop listening to the connection. */
  finish(): void {
    this.unlink?.();
  }
}
