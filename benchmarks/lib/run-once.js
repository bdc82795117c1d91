import os from 'node:os';
import path from 'node:path';
import { runClientProcess } from './client-run.js';
import { freePort } from './free-port.js';
import { ServerHandle } from './server-handle.js';

/**
 * One run of one scenario with a fresh server and client process: the client's throughput and
 * latency, and the server's CPU time and RSS over the client's measuring window.
 * `nodeFlags` go to both processes (the profiler uses it).
 */
export async function runOnce(scenario, load, { nodeFlags = [] } = {}) {
  const params = { ...scenario, load, ...(await placeFor(scenario)) };
  const server = await ServerHandle.start(scenario.system, params, { nodeFlags });
  try {
    const samples = [];
    const result = await runClientProcess(scenario.system, { ...params, address: server.address }, {
      nodeFlags,
      onMark: () => samples.push(server.usage()),
    });
    const [atStart, atEnd] = await Promise.all(samples);
    if (!atStart || !atEnd) throw new Error(`${scenario.system} server did not report its usage`);
    return {
      ...result,
      server_pid: server.pid,
      server_cpu_s: (atEnd.cpu_us - atStart.cpu_us) / 1e6,
      server_rss_mb: atEnd.rss / 2 ** 20,
    };
  } finally {
    await server.stop();
  }
}

/** What the server must be told before it starts: a socket path, or moleculer's two ports. */
async function placeFor(scenario) {
  if (scenario.transport === 'unix') return { socketPath: path.join(os.tmpdir(), `skein-bench-${process.pid}.sock`) };
  if (scenario.system === 'moleculer') return { ports: { server: await freePort(), client: await freePort() } };
  return {};
}
