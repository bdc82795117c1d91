// Skein's own JavaScript per call, without sockets: a ClientStream and an RpcServer in one
// process, joined by in-memory byte connections under the real TCP transport (frame reader,
// batcher, slab), running the stream echo at 256 in flight. What it prints is the cost of both
// sides of a call on this runtime's engine, free of the kernel and of the scheduling noise of two
// processes, so that engines can be compared (run it with node, bun and deno).
//
//   node benchmarks/js-cost.js          (or: node_modules/bun/bin/bun.exe benchmarks/js-cost.js)
//
// Not a throughput figure: the in-memory connections copy each batch and deliver it on the next
// turn (setImmediate), which is cheaper than a socket.
import { Buffer } from 'node:buffer';
import { systemClock } from '@skein/core';
import { ClientStream, RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { ECHO_MSG, echoRouter } from './lib/skein-echo.js';

const IN_FLIGHT = 256;
const CALLS = 500_000;
const ROUNDS = 5;

/** A ByteConn whose writes reach its peer's data handler on the next turn, as one chunk per batch. */
class MemoryConn {
  constructor(remote) {
    this.remote = remote;
    this.peer = undefined;
    this.handlers = undefined;
    this.inbox = [];
    this.scheduled = false;
  }
  bind(handlers) {
    this.handlers = handlers;
  }
  write(chunks) {
    // One chunk per batch, as a plain Uint8Array (what the runtime adapters hand on).
    const batch = Buffer.concat(chunks);
    this.peer.receive(new Uint8Array(batch.buffer, batch.byteOffset, batch.length));
    return true;
  }
  receive(chunk) {
    this.inbox.push(chunk);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const chunks = this.inbox;
      this.inbox = [];
      for (const c of chunks) this.handlers.data(c);
    });
  }
  pause() {}
  resume() {}
  end() {}
  close() {}
}

let accept;
const memoryRuntime = {
  name: 'memory',
  clock: systemClock,
  async listen(address, onConn) {
    accept = onConn;
    return { address, close: async () => {} };
  },
  async connect() {
    const client = new MemoryConn('server');
    const server = new MemoryConn('client');
    client.peer = server;
    server.peer = client;
    accept(server);
    return client;
  },
};

const transport = tcpTransport(memoryRuntime);
const address = { host: 'memory', port: 1 };
const server = new RpcServer({ dispatch: echoRouter() });
await server.listen(transport, address);
const stream = await ClientStream.connect({ transport, address, window: IN_FLIGHT });
const msg = new Uint8Array(32).fill(0x5a);
const opts = {};

function echo(total) {
  return new Promise((resolve, reject) => {
    let started = 0;
    let done = 0;
    const next = (err) => {
      if (err) return reject(err);
      if (++done === total) resolve();
      else if (started < total) send();
    };
    const send = () => {
      started++;
      stream.send(ECHO_MSG, msg, opts, next);
    };
    while (started < IN_FLIGHT) send();
  });
}

await echo(CALLS); // warm-up
const perCall = [];
for (let r = 0; r < ROUNDS; r++) {
  const t0 = performance.now();
  await echo(CALLS);
  perCall.push(((performance.now() - t0) * 1e6) / CALLS);
}
const runtime = typeof Bun !== 'undefined' ? `bun ${Bun.version}` : typeof Deno !== 'undefined' ? `deno ${Deno.version.deno}` : `node ${process.versions.node}`;
console.log(`${runtime}: ${Math.min(...perCall).toFixed(0)} ns per call (best of ${ROUNDS}; all: ${perCall.map((x) => x.toFixed(0)).join(', ')})`);
// The in-memory connections have no close handshake: the process simply ends.
process.exit(0);
