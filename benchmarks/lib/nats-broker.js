import { spawn } from 'node:child_process';
import { freePort } from './free-port.js';

/**
 * Debian's `nats-server` on a free loopback port, for the NATS peer: the broker every NATS
 * request and reply goes through. Resolves when it logs that it is ready. It is killed when
 * this process exits, so a benchmark server never leaves a broker behind.
 */
export async function startNatsServer() {
  const port = await freePort();
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  process.once('exit', () => child.kill());
  await new Promise((resolve, reject) => {
    let log = '';
    child.once('error', (err) => reject(new Error(`nats-server did not start (${err.message}); install Debian's nats-server`)));
    child.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${log}`)));
    child.stderr.on('data', (chunk) => {
      log += chunk;
      if (log.includes('Server is ready')) resolve();
    });
  });
  child.stderr.resume();
  return { port, pid: child.pid, stop: () => child.kill() };
}

/** The subject the NATS peer's server answers `add` on. */
export const NATS_ADD_SUBJECT = 'calc.add';
