// The RPC benchmark matrix: every scenario in scenarios.js, client and server each in their own
// process, a warm-up and then a measuring window per run, the median of the runs kept. The runs
// go in rounds (one run of every scenario, then the next), so that the scenarios compared share
// the VM's fast and slow stretches. Writes
// results/latest.json, then regenerates the tables and charts in docs/benchmarks.md.
//
//   pnpm bench                 full matrix, 3 runs per scenario
//   pnpm bench --quick         reduced matrix, 1 shorter run per scenario
//   pnpm bench --only stream   only the scenarios whose name contains "stream", into
//                              results/only.json (latest.json and the docs stay as they are);
//                              a comma-separated list takes any of its parts: --only "c tcp,nats";
//                              a part ending in $ must end the name: --only "tcp 32B @256$"
//
// Run `pnpm build` first: the scenarios import the built packages, as an application would.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { aggregate } from './lib/aggregate.js';
import { machine } from './lib/environment.js';
import { int } from './lib/format.js';
import { runOnce } from './lib/run-once.js';
import { writeReport } from './report.js';
import { matrix } from './scenarios.js';

const FULL = { warmupMs: 1000, measureMs: 3000, runs: 3 };
const QUICK = { warmupMs: 500, measureMs: 1500, runs: 1 };

const resultsFile = new URL('./results/latest.json', import.meta.url);
const onlyFile = new URL('./results/only.json', import.meta.url);

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string' },
    'no-report': { type: 'boolean', default: false },
  },
});

async function main() {
  const settings = { ...(flags.quick ? QUICK : FULL) };
  if (flags.runs) settings.runs = Number(flags.runs);
  const scenarios = matrix({ quick: flags.quick, only: flags.only });
  if (scenarios.length === 0) throw new Error(`no scenario matches --only ${JSON.stringify(flags.only)}`);
  const command = [invokedAs(), ...process.argv.slice(2).map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))].join(' ');
  const started = Date.now();
  const loadBefore = os.loadavg()[0];
  console.log(`${scenarios.length} scenarios x ${settings.runs} runs; load average ${loadBefore.toFixed(2)}`);
  const { records, failures } = await runAll(scenarios, settings);
  const results = {
    machine: machine(command),
    settings: {
      warmup_s: settings.warmupMs / 1000,
      measure_s: settings.measureMs / 1000,
      runs: settings.runs,
      loadavg_1m_start: round2(loadBefore),
      loadavg_1m_end: round2(os.loadavg()[0]),
      wall_s: Math.round((Date.now() - started) / 1000),
    },
    records,
  };
  // A partial run (--only) must not replace the complete results the docs are made from.
  const file = flags.only ? onlyFile : resultsFile;
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote benchmarks/results/${flags.only ? 'only' : 'latest'}.json in ${results.settings.wall_s} s`);
  if (!flags['no-report'] && !flags.only) writeReport();
  if (failures > 0) {
    console.error(`${failures} scenario(s) failed`);
    process.exitCode = 1;
  }
}

/**
 * Runs the matrix in rounds: round i is the i-th run of every scenario, in matrix order. This VM
 * drifts by ±30 % over minutes, so a scenario's runs back to back would all land in one fast or
 * slow stretch, and the scenarios a table compares would each get a different one. In rounds,
 * every stretch is shared by all of them. A scenario that fails is dropped from later rounds.
 */
async function runAll(scenarios, settings) {
  const runs = new Map(scenarios.map((s) => [s, []]));
  const failed = new Set();
  for (let round = 0; round < settings.runs; round++) {
    if (settings.runs > 1) console.log(`round ${round + 1} of ${settings.runs}`);
    for (const scenario of scenarios) {
      if (failed.has(scenario)) continue;
      try {
        runs.get(scenario).push(await runOnce(scenario, { warmupMs: settings.warmupMs, measureMs: settings.measureMs }));
      } catch (err) {
        failed.add(scenario);
        console.error(`${scenario.name}: FAILED: ${err.message}`);
      }
    }
  }
  const records = [];
  for (const scenario of scenarios) {
    if (failed.has(scenario)) continue;
    const record = aggregate(scenario, runs.get(scenario));
    records.push(record);
    console.log(progressLine(scenario, record));
  }
  return { records, failures: failed.size };
}

function progressLine(scenario, r) {
  const rate = int(r.calls_per_s);
  return `${scenario.name.padEnd(40)} ${rate.padStart(10)} calls/s ${r.mb_per_s.toFixed(1).padStart(8)} MB/s  p50 ${r.p50_us} us  p99 ${r.p99_us} us  server cpu ${r.server_cpu_s} s`;
}

const round2 = (n) => Math.round(n * 100) / 100;

/** The command as typed, for the results: through the root's `pnpm bench`, or node directly. */
function invokedAs() {
  if (process.env.npm_lifecycle_event === 'bench') return 'pnpm bench';
  return `node ${path.relative(process.cwd(), fileURLToPath(import.meta.url))}`;
}

main().catch((err) => {
  console.error(err.message);
  process.exitCode = 1;
});
