// The raw echo's client, as lean as a Node client can be: N frames in flight; each read lands in
// one buffer reused for every read (`onread`), is only counted (no frame is kept or copied), and
// the new frames of one read leave in one write of a prebuilt block (a view per count, made up
// front), so a refill allocates and copies nothing. Frames too big for a block of N (1 MiB) are
// written one by one from the one prebuilt frame, corked. The echo answers in order, so send times
// wait in a ring. Bun and Deno (no `onread` in their node:net) count 'data' chunks instead.
import net from 'node:net';
import { runBenchmarkClient } from '../lib/client-process.js';
import { FrameCounter } from '../lib/frame-counter.js';
import { TimeRing } from '../lib/time-ring.js';

const READ_BUFFER = 64 * 1024;
const MAX_BLOCK = 4 * 1024 * 1024;
const onNode = !('Bun' in globalThis) && !('Deno' in globalThis);

runBenchmarkClient(async ({ transport, address, payloadBytes, inFlight }) => {
  const sent = new TimeRing(inFlight);
  const counter = new FrameCounter();
  const writeFrames = frameWriter(payloadBytes, inFlight);
  let done; // the closed loop hands the same completion function to every call
  let queued = 0; // calls started since the last write
  let reading = false; // inside a read: its completions' new calls leave together after it

  const flush = () => {
    if (queued > 0) writeFrames(socket, queued);
    queued = 0;
  };
  const onBytes = (bytes, n) => {
    const replies = counter.count(bytes, 0, n);
    reading = true;
    for (let i = 0; i < replies; i++) done(null, sent.shift());
    reading = false;
    flush();
  };
  const socket = await connect(address, onNode ? { buffer: Buffer.allocUnsafe(READ_BUFFER), callback: (n, buffer) => onBytes(buffer, n) } : undefined);
  if (!onNode) socket.on('data', (chunk) => onBytes(chunk, chunk.length));
  if (transport === 'tcp') socket.setNoDelay(true);

  const call = (t0, onDone) => {
    done = onDone;
    sent.push(t0);
    // The first N calls come in one synchronous burst: one write after it, as after a read.
    if (++queued === 1 && !reading) queueMicrotask(flush);
  };
  return { call, payloadBytes, close: () => socket.destroy() };
});

/** `write(socket, k)` sends k frames with no allocation or copy of ours. */
function frameWriter(payloadBytes, inFlight) {
  const frameBytes = 4 + payloadBytes;
  const frame = Buffer.alloc(frameBytes, 0x5a);
  frame.writeUInt32LE(payloadBytes, 0);
  if (frameBytes * inFlight > MAX_BLOCK) {
    return (socket, k) => {
      socket.cork();
      for (let i = 0; i < k; i++) socket.write(frame);
      socket.uncork();
    };
  }
  const block = Buffer.allocUnsafe(frameBytes * inFlight);
  for (let i = 0; i < inFlight; i++) frame.copy(block, i * frameBytes);
  const views = Array.from({ length: inFlight + 1 }, (_, k) => block.subarray(0, k * frameBytes));
  return (socket, k) => socket.write(views[k]);
}

function connect(address, onread) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ ...address, ...(onread ? { onread } : {}) }, () => resolve(socket));
    socket.once('error', reject);
  });
}
