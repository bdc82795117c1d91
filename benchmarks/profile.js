// Profiles scenarios with `node --cpu-prof` on both the client and the server, and prints each
// side's top functions by self time. Profiles go to benchmarks/results/profiles/ (not committed).
//
//   node benchmarks/profile.js --only "skein/stream/send tcp 32B @256" [--top 15] [--seconds 3]
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { int } from './lib/format.js';
import { topSelfTime } from './lib/profile-summary.js';
import { runOnce } from './lib/run-once.js';
import { matrix } from './scenarios.js';

const { values: flags } = parseArgs({
  options: { only: { type: 'string' }, top: { type: 'string', default: '15' }, seconds: { type: 'string', default: '3' } },
});

const profileRoot = fileURLToPath(new URL('./results/profiles/', import.meta.url));

async function main() {
  const matching = matrix({ quick: false, only: flags.only });
  if (matching.length === 0) throw new Error(`no scenario matches --only ${JSON.stringify(flags.only)}`);
  // Node and Bun both take `--cpu-prof`; Deno has no such flag, so its scenarios run unprofiled.
  const scenarios = matching.filter((s) => s.runtime !== 'deno');
  for (const s of matching) if (s.runtime === 'deno') console.log(`skipping ${s.name}: Deno has no --cpu-prof`);
  for (const scenario of scenarios) await profile(scenario);
}

async function profile(scenario) {
  const dir = `${profileRoot}${scenario.name.replace(/[^\w@.-]+/g, '_')}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Profiles are written when a process exits; the file name carries its pid, which tells
  // the client's from the server's.
  const result = await runOnce(scenario, { warmupMs: 1000, measureMs: Number(flags.seconds) * 1000 }, { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  console.log(`\n## ${scenario.name}: ${int(result.calls_per_s)} calls/s under the profiler`);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const pid = Number(file.split('.')[3]);
    const role = pid === result.server_pid ? 'server' : pid === result.pid ? 'client' : file;
    console.log(`\n${role}`);
    for (const f of topSelfTime(`${dir}/${file}`, Number(flags.top))) {
      console.log(`${(f.share * 100).toFixed(1).padStart(5)} %  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`);
    }
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exitCode = 1;
});
