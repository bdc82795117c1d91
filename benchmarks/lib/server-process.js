import { createInterface } from 'node:readline';

/**
 * The shared shell of every benchmark server: `start(params)` brings the system up and returns
 * `{ address, close }`. This prints `READY <address json>`, answers each `usage` line on stdin
 * with `USAGE <json>` (this process's CPU time and RSS, so the orchestrator can charge the
 * server for exactly the measuring window), and exits when stdin closes, so a crashed or
 * killed orchestrator never leaves a server behind.
 */
export async function serveBenchmark(start) {
  const params = JSON.parse(process.argv[2] ?? '{}');
  const { address, close } = await start(params);
  console.log(`READY ${JSON.stringify(address)}`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'usage') console.log(`USAGE ${JSON.stringify(usage())}`);
  });
  lines.on('close', () => {
    // A close that hangs on a peer's half-open connection must not keep the process alive.
    setTimeout(() => process.exit(0), 2000).unref();
    Promise.resolve(close()).finally(() => process.exit(0));
  });
}

function usage() {
  const r = process.resourceUsage();
  return { cpu_us: r.userCPUTime + r.systemCPUTime, rss: process.memoryUsage.rss() };
}
