import { spawnChild } from './child-lines.js';

/**
 * A benchmark server in its own process, seen from the orchestrator: started, asked for its
 * CPU time and RSS at the measuring window's edges, stopped by closing its stdin.
 */
export class ServerHandle {
  static start(system, params, opts = {}) {
    return new Promise((resolve, reject) => {
      const usageWaiters = [];
      const { child, exited } = spawnChild('server', system, params, {
        ...opts,
        onLine(word, rest) {
          if (word === 'READY') resolve(new ServerHandle(child, exited, JSON.parse(rest), usageWaiters));
          else if (word === 'USAGE') usageWaiters.shift()?.(JSON.parse(rest));
        },
      });
      exited.then(({ code, signal }) => {
        reject(new Error(`${system} server exited (${signal ?? code}) before it was ready`));
        for (const w of usageWaiters.splice(0)) w(null);
      });
    });
  }

  constructor(child, exited, address, usageWaiters) {
    this.child = child;
    this.exited = exited;
    this.address = address;
    this.usageWaiters = usageWaiters;
  }

  get pid() {
    return this.child.pid;
  }

  /** `{ cpu_us, rss }` of the server process now. */
  usage() {
    return new Promise((resolve) => {
      this.usageWaiters.push(resolve);
      this.child.stdin.write('usage\n');
    });
  }

  /** Asks the server to collect garbage (it must run with --expose-gc), before an RSS reading. */
  collectGarbage() {
    this.child.stdin.write('gc\n');
  }

  /** Closes stdin (the server exits by itself) and kills it if it lingers. */
  async stop() {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
