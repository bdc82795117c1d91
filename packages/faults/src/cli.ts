/**
 * `pnpm soak`: the fault suite against real server processes, each scenario bounded in time,
 * printing its figures and checks. Exits 1 if any check failed. See docs/faults.md.
 *
 *   pnpm soak                          every scenario, full size (about 10 minutes)
 *   pnpm soak fuzz chaos               only these
 *   pnpm soak --seconds 5 --minutes 0.2  every scenario, short
 *   pnpm soak partition --calls 3000 --rate 200   packets dropped across hosts (needs root)
 */
import { parseArgs } from 'node:util';
import { runChaos } from './chaos.js';
import type { ScenarioReport } from './checks.js';
import { runFrozenPeer } from './frozen-peer.js';
import { runFuzz } from './fuzz.js';
import { runPartition } from './partition.js';
import { machineLine, printReport } from './print.js';
import { runSlowloris } from './slowloris.js';
import { runSoak } from './soak.js';
import { runStreamSuite } from './stream-suite.js';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string' },
    minutes: { type: 'string', default: '5' },
    frames: { type: 'string', default: '1000000' },
    connections: { type: 'string', default: '32' },
    claims: { type: 'string', default: '64' },
    calls: { type: 'string' },
    'in-flight': { type: 'string', default: '64' },
    rate: { type: 'string', default: '200' },
    dribblers: { type: 'string', default: '1000' },
    'read-timeout-ms': { type: 'string', default: '5000' },
    'keepalive-ms': { type: 'string', default: '1000' },
    'keepalive-timeout-ms': { type: 'string', default: '5000' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});

const num = (s: string | undefined, fallback: number): number => (s === undefined ? fallback : Number(s));
/** `--seconds` bounds every timed scenario but the soak; each has its own full-size default. */
const seconds = (full: number): number => num(flags.seconds, full);
const inFlight = num(flags['in-flight'], 64);

const SCENARIOS: Record<string, () => Promise<ScenarioReport>> = {
  fuzz: () =>
    runFuzz({
      frames: num(flags.frames, 1_000_000),
      seconds: seconds(600),
      connections: num(flags.connections, 32),
      framesPerConnection: 200,
      claims: num(flags.claims, 64),
      seed: num(flags.seed, 1),
    }),
  chaos: () => runChaos({ hops: 1, seconds: seconds(20), calls: num(flags.calls, Infinity), inFlight }),
  'chaos-2hop': () => runChaos({ hops: 2, seconds: seconds(20), calls: num(flags.calls, Infinity), inFlight }),
  // Its faults last as long as the calls take at the rate (not `--seconds`); 32 in flight at most
  // (the rate paces the calls; only stuck ones pile up). Skipped, saying why, without network namespaces.
  partition: () => runPartition({ calls: num(flags.calls, 6000), inFlight: Math.min(inFlight, 32), ratePerSecond: num(flags.rate, 200) }),
  frozen: () =>
    runFrozenPeer({
      keepaliveMs: num(flags['keepalive-ms'], 1000),
      keepaliveTimeoutMs: num(flags['keepalive-timeout-ms'], 5000),
      tickMs: 100,
      frozenSeconds: seconds(10),
      inFlight: Math.min(inFlight, 16),
    }),
  // Every kind of stream killed, frozen, cancelled, timed out, read slowly and cut off, one hop and two (about 90 s).
  streams: () => runStreamSuite(),
  slowloris: () => runSlowloris({ dribblers: num(flags.dribblers, 1000), readTimeoutMs: num(flags['read-timeout-ms'], 5000) }),
  soak: () => {
    const seconds = num(flags.minutes, 5) * 60;
    // A sample every 5 s, and at least a dozen in a short run.
    return runSoak({ seconds, inFlight, sampleMs: Math.min(5000, Math.max(250, (seconds * 1000) / 12)) });
  },
};

async function main(): Promise<void> {
  if (flags.help) return console.log(`usage: pnpm soak [${Object.keys(SCENARIOS).join('|')} ...] [--seconds N] [--minutes N] [...]; see docs/faults.md`);
  const unknown = positionals.filter((p) => !(p in SCENARIOS));
  if (unknown.length > 0) throw new Error(`no scenario ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  const names = positionals.length > 0 ? positionals : Object.keys(SCENARIOS);
  console.log(machineLine(`pnpm soak ${process.argv.slice(2).join(' ')}`.trim()));
  let failed = 0;
  for (const name of names) {
    const started = Date.now();
    const report = await SCENARIOS[name]!();
    printReport(report, (Date.now() - started) / 1000);
    failed += report.checks.filter((c) => !c.ok).length;
  }
  console.log(failed === 0 ? '\nall checks passed' : `\n${failed} check(s) failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
