import os from 'node:os';
import path from 'node:path';
import { runClientProcess } from './client-run.js';
import { freePort } from './free-port.js';
import { makeTestCerts } from '@skein/test-utils';
import { ServerHandle } from './server-handle.js';

/**
 * One run of one scenario with fresh server and client processes: the client's throughput and
 * latency, and the servers' CPU time and RSS over the client's measuring window. Most
 * scenarios have one server; `scenario.servers` starts that many (the pool), each in its own
 * process, and their CPU time and RSS are summed. The client gets the first server's
 * `address` and all of them as `addresses`. `nodeFlags` go to every process (the profiler).
 */
export async function runOnce(scenario, load, { nodeFlags = [] } = {}) {
  const params = { ...scenario, load, ...(await placeFor(scenario)) };
  const servers = [];
  try {
    for (let i = 0; i < (scenario.servers ?? 1); i++) servers.push(await ServerHandle.start(scenario.system, params, { nodeFlags }));
    const samples = [];
    const addresses = servers.map((s) => s.address);
    const result = await runClientProcess(scenario.system, { ...params, address: addresses[0], addresses }, {
      nodeFlags,
      onMark: () => samples.push(Promise.all(servers.map((s) => s.usage()))),
    });
    const [atStart, atEnd] = await Promise.all(samples);
    if (!atStart?.every(Boolean) || !atEnd?.every(Boolean)) throw new Error(`${scenario.system} server did not report its usage`);
    const sum = (usages, key) => usages.reduce((total, u) => total + u[key], 0);
    return {
      ...result,
      server_pid: servers[0].pid,
      server_cpu_s: (sum(atEnd, 'cpu_us') - sum(atStart, 'cpu_us')) / 1e6,
      server_rss_mb: sum(atEnd, 'rss') / 2 ** 20,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/** What the server must be told before it starts: a socket path, or moleculer's two ports. */
async function placeFor(scenario) {
  if (scenario.transport === 'unix') return { socketPath: path.join(os.tmpdir(), `skein-bench-${process.pid}.sock`) };
  if (scenario.transport === 'tls' || scenario.transport === 'http2-tls') return { tlsDir: benchCerts().dir };
  if (scenario.system === 'moleculer') return { ports: { server: await freePort(), client: await freePort() } };
  return {};
}

/** One throwaway CA and server certificate per benchmark run (openssl, as the tests make theirs). */
let certs;
function benchCerts() {
  if (!certs) {
    certs = makeTestCerts();
    process.once('exit', () => certs.remove());
  }
  return certs;
}
