import { createInterface } from 'node:readline';
import { processUsage } from './proc-usage.js';

/**
 * The shared shell of every benchmark server: `start(params)` brings the system up and returns
 * `{ address, close, helperPids? }`. This prints `READY <address json>`, answers each `usage`
 * line on stdin with `USAGE <json>` (this process's CPU time and RSS, so the orchestrator can
 * charge the server for exactly the measuring window), and exits when stdin closes, so a crashed
 * or killed orchestrator never leaves a server behind. `helperPids` are processes the server
 * runs on its behalf (nats-server, the broker NATS calls go through): their CPU time and RSS
 * count as the server's.
 */
export async function serveBenchmark(start) {
  const params = JSON.parse(process.argv[2] ?? '{}');
  const { address, close, helperPids = [] } = await start(params);
  console.log(`READY ${JSON.stringify(address)}`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'usage') console.log(`USAGE ${JSON.stringify(usage(helperPids))}`);
    // The memory benchmark collects garbage before it reads RSS (the server runs with --expose-gc).
    else if (line.trim() === 'gc') globalThis.gc?.();
  });
  lines.on('close', () => {
    // A close that hangs on a peer's half-open connection must not keep the process alive.
    setTimeout(() => process.exit(0), 2000).unref();
    Promise.resolve(close()).finally(() => process.exit(0));
  });
}

function usage(helperPids) {
  const r = process.resourceUsage();
  const own = { cpu_us: r.userCPUTime + r.systemCPUTime, rss: process.memoryUsage.rss() };
  return helperPids.map(processUsage).reduce((a, b) => ({ cpu_us: a.cpu_us + b.cpu_us, rss: a.rss + b.rss }), own);
}
