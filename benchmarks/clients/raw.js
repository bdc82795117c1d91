// The raw echo's client: the same frame written for every reply, N frames in flight, the new
// frames of one data chunk corked into one writev. The echo answers in order, so send times
// wait in a ring.
import net from 'node:net';
import { runBenchmarkClient } from '../lib/client-process.js';
import { LengthPrefixedParser } from '../lib/length-prefixed.js';
import { TimeRing } from '../lib/time-ring.js';

runBenchmarkClient(async ({ transport, address, payloadBytes, inFlight }) => {
  const socket = await connect(address);
  if (transport === 'tcp') socket.setNoDelay(true);
  const frame = Buffer.alloc(4 + payloadBytes, 0x5a);
  frame.writeUInt32LE(payloadBytes, 0);
  const sent = new TimeRing(inFlight);
  let done; // the closed loop hands the same completion function to every call
  const parser = new LengthPrefixedParser(() => done(null, sent.shift()));
  socket.on('data', (chunk) => {
    socket.cork();
    parser.push(chunk);
    socket.uncork();
  });
  const call = (t0, onDone) => {
    done = onDone;
    sent.push(t0);
    socket.write(frame);
  };
  return { call, payloadBytes, close: () => socket.destroy() };
});

function connect(address) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(address, () => resolve(socket));
    socket.once('error', reject);
  });
}
