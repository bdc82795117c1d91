import { Health, ServiceUnknown, createClient, type Client, type HealthStatus } from '@skein/api';
import { ErrorCode, RpcError, type Codec } from '@skein/core';
import type { ClientStream } from '@skein/stream';
import type { Command } from './args.js';
import { Deadline } from './deadline.js';
import type { Output } from './progress-line.js';
import { describeError } from './render.js';
import { connect, serverSpoke, withTransportHint } from './session.js';
import type { Target } from './target.js';

/**
 * `skein health`'s exit codes, one per answer, so that it serves as a Kubernetes exec probe or
 * a script's test: 0 serving; 1 no answer (unreachable, timed out, no health service there),
 * as every command's failure; 2 a mistake on the command line; 3 not serving; 4 the server
 * holds no status for the service (gRPC's SERVICE_UNKNOWN).
 */
export const HealthExit = { Serving: 0, Failed: 1, Usage: 2, NotServing: 3, Unknown: 4 } as const;

const EXIT_OF: Readonly<Record<HealthStatus, number>> = { serving: HealthExit.Serving, 'not-serving': HealthExit.NotServing, unknown: HealthExit.Unknown };

/**
 * `skein health ADDR [SERVICE] [--watch]`: asks the server's health service (@skein/api's
 * `Health`) for SERVICE's status (none: the whole server) and prints it, one word on stdout.
 * With `--watch`, prints each status as it changes until the server ends the watch (as it does
 * when it closes, after `not-serving`); the exit code is then the last status's. `--timeout`
 * bounds connecting and the (first) answer.
 */
export async function health(cmd: Command, target: Target, codec: Codec, out: Output, err: Output): Promise<number> {
  const deadline = new Deadline(cmd.timeoutMs);
  // A watch has no deadline: keepalive pings (each --timeout of silence) find a link gone dead.
  const stream = await connect(target, cmd.timeoutMs, undefined, cmd.watch ? cmd.timeoutMs : 0);
  const client = createClient(Health, stream, { codec });
  // Once a status came, the server spoke Skein: a later failure is no hint of a wrong address form.
  const heard = { status: false };
  try {
    return cmd.watch ? await watch(client, cmd.service, deadline, out, heard) : await check(client, cmd.service, deadline, out);
  } catch (e) {
    if (e instanceof ServiceUnknown) {
      out.write('unknown\n');
      return HealthExit.Unknown;
    }
    err.write(`error: ${describeError(withTransportHint(explain(deadline.explain(e), stream), target, heard.status || serverSpoke(stream)), codec)}\n`);
    return HealthExit.Failed;
  } finally {
    await stream.close();
  }
}

async function check(client: Client<typeof Health>, service: string, deadline: Deadline, out: Output): Promise<number> {
  const { status } = await client.check({ service }, { timeoutMs: deadline.remainingMs() });
  out.write(`${status}\n`);
  return EXIT_OF[status];
}

/**
 * Prints each status as it comes. Opening the watch and its first status must come within what
 * `--timeout` left (a signal cancels the stream past it); the rest come whenever the status
 * changes: a watch has no deadline of its own, it may last for ever.
 */
async function watch(client: Client<typeof Health>, service: string, deadline: Deadline, out: Output, heard: { status: boolean }): Promise<number> {
  const first = new AbortController();
  const timer = setTimeout(() => first.abort(), deadline.remainingMs());
  let last: HealthStatus | undefined;
  try {
    for await (const { status } of await client.watch({ service }, { signal: first.signal })) {
      clearTimeout(timer);
      heard.status = true;
      last = status;
      out.write(`${status}\n`);
    }
  } catch (e) {
    if (last === undefined && first.signal.aborted) throw new RpcError(ErrorCode.Timeout, `${Health.name}.watch: no status within ${deadline.ms} ms`, { cause: e });
    throw e;
  } finally {
    clearTimeout(timer);
  }
  // Ended by the server with no status at all: nothing says it serves.
  return last === undefined ? HealthExit.Failed : EXIT_OF[last];
}

/** A server with no health service answers a bare Service error: says what is missing, not only the code. */
function explain(e: unknown, stream: ClientStream): unknown {
  if (!(e instanceof RpcError) || e.code !== ErrorCode.Service) return e;
  return new RpcError(e.code, `${stream.remote} serves no health service (${Health.name}): its dispatch needs healthService(reporter) from @skein/api`, { cause: e, retry: e.retry });
}
