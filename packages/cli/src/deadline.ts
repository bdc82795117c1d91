import { ErrorCode, RpcError } from '@skein/core';

/**
 * `--timeout` as one deadline for a command's connect, hello and first answer: a server that
 * accepts and never speaks fails in that time, whatever the stream's own timers would allow.
 */
export class Deadline {
  private readonly at: number;

  constructor(readonly ms: number) {
    this.at = performance.now() + ms;
  }

  /** What is left, for the first call's timeout; never below 1 ms (a timeout must be positive). */
  remainingMs(): number {
    return Math.max(1, Math.ceil(this.at - performance.now()));
  }

  /** A Timeout names the flag: the call's own figure is only what connecting left of it. */
  explain(err: unknown): unknown {
    if (!(err instanceof RpcError) || err.code !== ErrorCode.Timeout) return err;
    return new RpcError(err.code, `${err.message} (--timeout ${this.ms} ms, counted from connecting)`, { cause: err, retry: err.retry });
  }
}
