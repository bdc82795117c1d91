// Frame echo over wss:// on Bun: a wsTransport server in a child process (so its CPU time is its
// own) echoes every frame; a wsTransport client here (Bun's WebSocket) sends COUNT frames of SIZE
// bytes, at most 4 MiB unechoed. Not in the benchmark matrix: a quick before/after check of the
// Bun wss server. Prints the client's wall time and the server's CPU time (user + system) for the run.
//   [SRC=<transport-ws src/index.ts to measure>] .tools/node_modules/bun/bin/bun.exe \
//     --conditions skein-source benchmarks/bun-wss-echo.mjs [size=16384] [count=20000]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

const { wsTransport } = await import(process.env.SRC ?? '@skein/transport-ws');
const spec = { headerLength: 4, bodyLength: (b, at) => new DataView(b.buffer, b.byteOffset + at, 4).getUint32(0, true) };

if (process.env.ROLE === 'server') await serve(process.env.CERTS);
else await measure(Number(process.argv[2] ?? 16384), Number(process.argv[3] ?? 20000));

/** The child: listens, prints `listening <port>`; `start` on stdin starts its CPU clock, `stop` prints `cpu <ms>`. */
async function serve(dir) {
  const tls = { cert: readFileSync(`${dir}/cert.pem`, 'utf8'), key: readFileSync(`${dir}/key.pem`, 'utf8') };
  const listener = await wsTransport({ tls }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => {
    conn.bind({ frame: (b, s, e) => (conn.write(b.subarray(s, e)), conn.flush()), drain() {}, close() {} });
  });
  console.log(`listening ${listener.address.port}`);
  let c0;
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'start') c0 = process.cpuUsage();
    if (line !== 'stop') continue;
    const u = process.cpuUsage(c0);
    console.log(`cpu ${((u.user + u.system) / 1000).toFixed(0)}`);
    process.exit(0);
  }
}

async function measure(size, count) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bun-wss-echo-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const child = spawn(process.execPath, ['--conditions', 'skein-source', process.argv[1]], { env: { ...process.env, ROLE: 'server', CERTS: dir }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value.split(' ')[1]);
  const conn = await wsTransport({ tls: { ca: readFileSync(`${dir}/cert.pem`, 'utf8') } }).connect({ host: '127.0.0.1', port, tls: true }, spec, { timeoutMs: 10_000 });
  const frame = new Uint8Array(4 + size);
  new DataView(frame.buffer).setUint32(0, size, true);
  let sent = 0;
  let echoed = 0;
  let wake;
  const done = new Promise((resolve) => conn.bind({ frame: () => (echoed++, wake?.(), echoed === count && resolve()), drain() {}, close() {} }));
  child.stdin.write('start\n');
  const t0 = performance.now();
  while (sent < count) {
    if ((sent - echoed) * size >= 4 << 20) await new Promise((r) => (wake = r));
    else if ((conn.write(frame), ++sent % 16 === 0)) conn.flush();
  }
  conn.flush();
  await done;
  const wall = performance.now() - t0;
  child.stdin.write('stop\n');
  const cpu = (await lines.next()).value.split(' ')[1];
  console.log(`size ${size} count ${count}: wall ${wall.toFixed(0)} ms (${((size * count) / 1e6 / (wall / 1000)).toFixed(0)} MB/s echoed), server cpu ${cpu} ms`);
  conn.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
