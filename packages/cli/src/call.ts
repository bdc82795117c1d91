import type { Codec } from '@skein/core';
import type { Command } from './args.js';
import { Deadline } from './deadline.js';
import type { Output } from './progress-line.js';
import { describeError, renderValue } from './render.js';
import { connect, serverSpoke, remoteMethod, withStreamHint, withTransportHint } from './session.js';
import type { Target } from './target.js';

/** `skein call`: one call, connect included, within `--timeout`; prints the reply as JSON on stdout, or the typed error on stderr (exit 1). */
export async function call(cmd: Command, target: Target, codec: Codec, arg: unknown, out: Output, err: Output): Promise<number> {
  const deadline = new Deadline(cmd.timeoutMs);
  const stream = await connect(target, cmd.timeoutMs);
  try {
    const value = await remoteMethod(stream, cmd.method, codec)(arg, { timeoutMs: deadline.remainingMs() });
    out.write(`${renderValue(value)}\n`);
    return 0;
  } catch (e) {
    err.write(`error: ${describeError(withStreamHint(withTransportHint(deadline.explain(e), target, serverSpoke(stream))), codec)}\n`);
    return 1;
  } finally {
    await stream.close();
  }
}
