/**
 * soak: a long flood against one server process, its memory sampled all along; then both sides
 * close. RSS must stay flat once warm, and nothing may be left behind: the server exits by itself
 * (no handle keeps it alive) and this process holds no handle it did not hold before.
 */
import { handleCounts, leakedHandles } from '@skein/test-utils';
import { nodeRuntime } from '@skein/runtime-node';
import { ConnPool } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { check, none, type Check, type ScenarioReport } from './checks.js';
import { Flood, errorSummary } from './flood.js';
import { holdsWithin } from './guard.js';
import { MiB, mib } from './memory.js';
import { ACTION, type ServerStats } from './server-params.js';
import { fetchStats, startServer, stopServer } from './servers.js';

export interface SoakOptions {
  seconds: number;
  inFlight: number;
  /** Between two memory samples. */
  sampleMs: number;
  /** How much RSS may grow from the warm samples to the last ones. Default 32 MiB. */
  rssSlack?: number;
}

const transport = tcpTransport(nodeRuntime);

export async function runSoak(o: SoakOptions): Promise<ScenarioReport> {
  const before = handleCounts();
  const server = await startServer({ name: 'soaked', role: 'back' });
  const pool = new ConnPool({ transport, address: server.address });
  const samples: ServerStats[] = [];
  const started = Date.now();
  const flood = new Flood((n) => echo(pool, n), o.inFlight);
  while (Date.now() - started < o.seconds * 1000) {
    await new Promise((resolve) => setTimeout(resolve, o.sampleMs));
    samples.push(await fetchStats(pool));
  }
  await flood.stop();
  const seconds = (Date.now() - started) / 1000;
  await pool.close();
  const stopped = await stopServer(server);
  // Handles closed a moment ago may still be on their way out: a leak is one that stays.
  const leaked = (await holdsWithin(() => isEmpty(leakedHandles(before)), 5000)) ? {} : leakedHandles(before);
  return report(o, samples, flood, seconds, stopped.exitedByItself, stopped.handles, leaked);
}

async function echo(pool: ConnPool, n: number): Promise<void> {
  const msg = new TextEncoder().encode(`soak call ${n}`);
  const reply = await pool.call(ACTION.echo, msg);
  if (Buffer.compare(reply.msg, msg) !== 0) throw new Error(`echo of call ${n} came back changed`);
}

const isEmpty = (o: object): boolean => Object.keys(o).length === 0;

/** RSS growth from the warm samples (the first third) to the last third: the highest of each, so a GC's dip does not count. */
function growth(samples: readonly ServerStats[]): { warm: number; last: number } {
  const third = Math.max(1, Math.floor(samples.length / 3));
  const highest = (s: readonly ServerStats[]): number => Math.max(...s.map((x) => x.rss));
  return { warm: highest(samples.slice(0, third)), last: highest(samples.slice(-third)) };
}

function report(
  o: SoakOptions,
  samples: readonly ServerStats[],
  flood: Flood,
  seconds: number,
  exitedByItself: boolean,
  serverHandles: Record<string, number>,
  clientHandles: Record<string, number>,
): ScenarioReport {
  const slack = o.rssSlack ?? 32 * MiB;
  const { warm, last } = growth(samples);
  const checks: Check[] = [
    check('flood calls, none failed', flood.ok > 0 && flood.failed === 0, `${flood.ok} ok, ${flood.failed} failed (${errorSummary(flood.errors)})`),
    check('memory samples', samples.length >= 3, String(samples.length)),
    check('server RSS flat once warm', last - warm <= slack, `${mib(warm)} warm, ${mib(last)} at the end (slack ${mib(slack)})`),
    none('server handles left after close', Object.keys(serverHandles).length, JSON.stringify(serverHandles)),
    check('server exited by itself after close', exitedByItself, exitedByItself ? 'yes' : 'no'),
    none('client handles left after close', Object.keys(clientHandles).length, JSON.stringify(clientHandles)),
  ];
  return {
    scenario: 'soak',
    figures: [
      ['calls', `${flood.ok} in ${seconds.toFixed(0)} s (${Math.round(flood.ok / seconds)}/s), ${o.inFlight} in flight`],
      ['server RSS', samples.map((s) => (s.rss / MiB).toFixed(0)).join(' ') + ' MiB'],
      ['server heap', samples.map((s) => (s.heapUsed / MiB).toFixed(0)).join(' ') + ' MiB'],
    ],
    checks,
  };
}
