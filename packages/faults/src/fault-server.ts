/**
 * A fault server: one child process running a real RpcServer over TCP (on loopback, or on a
 * NetLab host's address), started by the scenarios (servers.ts) with its ServerParams as JSON in
 * argv[2]. Prints `listening <address>`; on SIGTERM closes everything, prints `closed
 * handles=<json>` (what it left behind) and exits by itself, which it can only do when nothing is
 * left.
 */
// The sub-path, not the package: the package's entry loads vitest, which a server has no use for.
import { fullGc, handleCounts, leakedHandles } from '@skein/test-utils/resources';
import { nodeRuntime } from '@skein/runtime-node';
import { FailoverPool, RpcServer, createRouter, type ActionHandler, type ServerRequest } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { ExecutionLog } from './execution-log.js';
import { StreamHandlers } from './stream-handlers.js';
import { ACTION, type ServerParams, type ServerStats } from './server-params.js';

const params = JSON.parse(process.argv[2] ?? '{}') as ServerParams;
const utf8 = new TextEncoder();
const text = new TextDecoder();
const name = utf8.encode(params.name);

process.once('SIGTERM', () => void shutdown());
const before = handleCounts();
const transport = tcpTransport(nodeRuntime, params.transport);
const log = params.executions === undefined ? undefined : new ExecutionLog(params.executions);
const backs = params.role === 'front' ? new FailoverPool({ ...params.pool, transport, servers: params.backs ?? [] }) : undefined;
const streams = new StreamHandlers(log, backs);

const echo: ActionHandler = (req) => ({ msg: req.msg, blob: req.blob });

/** A back server's work: logged before the answer, so that a kill after it still shows it ran. */
const run: ActionHandler = (req) => {
  log?.record(text.decode(req.msg));
  if (!params.workMs) return name;
  return new Promise((resolve) => setTimeout(() => resolve(name), params.workMs));
};

/** A front's work: logged, then passed on; a back's failure is the front's failure. */
const forward: ActionHandler = async (req: ServerRequest) => {
  const [id, idempotent] = text.decode(req.msg).split(' ');
  log?.record(id!);
  const reply = await backs!.call(ACTION.run, utf8.encode(`${id} ${params.name}`), { idempotent: idempotent === '1' });
  return reply.msg;
};

function statsNow(): ServerStats {
  const m = process.memoryUsage();
  return {
    name: params.name,
    pid: process.pid,
    rss: m.rss,
    heapUsed: m.heapUsed,
    arrayBuffers: m.arrayBuffers,
    connections: server.connections,
    executions: log?.count ?? 0,
    inFlight: server.stats().inFlight,
    openStreams: streams.tally.open,
    signalled: streams.tally.signalled,
    timedOut: streams.tally.timedOut,
    withDeadline: streams.tally.withDeadline,
    answered: streams.tally.answered,
    outOfOrder: streams.tally.outOfOrder,
    bytesWritten: streams.tally.bytesWritten,
    poolInFlight: (backs?.stats() ?? []).reduce((n, s) => n + s.inFlight + s.queued, 0),
    timers: process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length,
  };
}

const stats: ActionHandler = () => utf8.encode(JSON.stringify(statsNow()));
/** After a full collection: what the server holds, not the garbage it has yet to collect. */
const statsAfterGc: ActionHandler = async () => {
  // Twice, a turn apart: buffers a first collection frees are released after it.
  fullGc();
  await new Promise((resolve) => setImmediate(resolve));
  fullGc();
  return stats(undefined as never);
};

const server = new RpcServer({
  ...params.server,
  dispatch: createRouter({
    [ACTION.echoNumeric]: echo,
    [ACTION.echo]: echo,
    [ACTION.run]: run,
    [ACTION.forward]: forward,
    [ACTION.stats]: stats,
    [ACTION.statsAfterGc]: statsAfterGc,
    ...(params.role === 'front' ? streams.frontTable() : streams.backTable()),
  }),
});
const bound = await server.listen(transport, params.listen ?? '127.0.0.1:0');
console.log(`listening ${'port' in bound ? `${bound.host}:${bound.port}` : bound.path}`);
// For a runner that cannot reach it (across NetLab hosts): its stats on stdout, unasked.
const printing = params.statsEveryMs ? setInterval(() => console.log(`stats ${JSON.stringify(statsNow())}`), params.statsEveryMs) : undefined;

async function shutdown(): Promise<void> {
  clearInterval(printing);
  await server.close();
  await backs?.close();
  log?.close();
  // Sockets and timers closed a moment ago may still be on their way out: a turn to go.
  await new Promise((resolve) => setImmediate(resolve));
  console.log(`closed handles=${JSON.stringify(leakedHandles(before))}`);
}
