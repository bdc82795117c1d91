// The memory benchmark's client: opens `connections` connections to one server (`system`: raw,
// the bare node:net echo, or skein, a ClientStream each), makes `calls` 32 B echo calls on each
// (one by one), prints `OPEN <json>` and then holds them all, idle, until stdin closes.
import net from 'node:net';
import { createInterface } from 'node:readline';
import { ClientStream } from '@skein/stream';
import { ECHO_MSG } from '../lib/skein-echo.js';
import { transportFor } from '../lib/skein-transports.js';

const OPENING_AT_ONCE = 100; // under the server's listen backlog
const MESSAGE = new Uint8Array(32).fill(0x5a);

const params = JSON.parse(process.argv[2] ?? '{}');
const open = params.system === 'skein' ? openSkein : openRaw;
const held = [];
let next = 0;
await Promise.all(
  Array.from({ length: OPENING_AT_ONCE }, async () => {
    while (next < params.connections) {
      next++;
      held.push(await open(params.address));
    }
  }),
);
console.log(`OPEN ${JSON.stringify({ connections: held.length })}`);
createInterface({ input: process.stdin }).on('close', () => process.exit(0));

async function openSkein(address) {
  const stream = await ClientStream.connect({ transport: transportFor('tcp', 'client'), address, window: 1 });
  for (let i = 0; i < params.calls; i++) await stream.call(ECHO_MSG, MESSAGE);
  return stream;
}

async function openRaw(address) {
  const socket = await new Promise((resolve, reject) => {
    const s = net.connect(address, () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);
  const frame = Buffer.alloc(4 + MESSAGE.length, 0x5a);
  frame.writeUInt32LE(MESSAGE.length, 0);
  for (let i = 0; i < params.calls; i++) await echoOnce(socket, frame);
  return socket;
}

/** Writes one frame and resolves when as many bytes have come back. */
function echoOnce(socket, frame) {
  return new Promise((resolve) => {
    let received = 0;
    const onData = (chunk) => {
      received += chunk.length;
      if (received < frame.length) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
    socket.write(frame);
  });
}
