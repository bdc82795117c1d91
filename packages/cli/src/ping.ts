import { ErrorCode, RpcError } from '@skein/core';
import type { Command } from './args.js';
import type { Output } from './progress-line.js';
import { connect, serverSpoke, withTransportHint } from './session.js';
import type { Target } from './target.js';
import { describeError } from './render.js';

/** `skein ping ADDR`: connects, pings `count` times, prints each round trip. Exit 0, or 1 on the first failure. */
export async function ping(cmd: Command, target: Target, out: Output, err: Output): Promise<number> {
  // --timeout bounds connecting, then each pong: a server that accepts and never answers fails in that time.
  const stream = await connect(target, cmd.timeoutMs);
  let answered = 0;
  try {
    for (; answered < cmd.count; answered++) {
      const t0 = performance.now();
      await pongWithin(stream.ping(), cmd.timeoutMs, stream.remote);
      out.write(`pong from ${stream.remote} over ${target.kind}: ${(performance.now() - t0).toFixed(2)} ms\n`);
    }
    return 0;
  } catch (e) {
    err.write(`error: ${describeError(withTransportHint(e, target, answered > 0 || serverSpoke(stream)))}\n`);
    return 1;
  } finally {
    stream.destroy('ping done');
  }
}

/**
 * The pong, or after `ms` the failure the stream's own keepalive gives a silent peer (IO, "did
 * not answer a ping", whichever of the two timers comes first: both say the same): the stream
 * gives a ping up only when nothing of the peer's comes for its keepalive timeout, so a server
 * that keeps sending bytes (a frame it never finishes) would hold `ping()` for ever.
 */
function pongWithin(pong: Promise<void>, ms: number, remote: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RpcError(ErrorCode.IO, `peer ${remote} did not answer a ping within ${ms} ms`)), ms);
  });
  return Promise.race([pong, late]).finally(() => clearTimeout(timer));
}
