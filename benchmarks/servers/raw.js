// The limit: a length-prefixed echo over node:net, with nothing between the socket and the
// frames. The whole frames of one data chunk go back in one write of a view of it (a frame cut
// across chunks in a write of its own, all corked into one writev), as the C echo does.
import { rmSync } from 'node:fs';
import net from 'node:net';
import { LengthPrefixedParser } from '../lib/length-prefixed.js';
import { serveBenchmark } from '../lib/server-process.js';
import { listenAddress, boundAddress } from '../lib/addresses.js';

serveBenchmark(async (params) => {
  const server = net.createServer((socket) => {
    if (params.transport === 'tcp') socket.setNoDelay(true);
    const parser = new LengthPrefixedParser((frames) => {
      // Backpressure: stop reading while the kernel will not take the replies.
      if (!socket.write(frames)) socket.pause();
    });
    socket.on('drain', () => socket.resume());
    socket.on('data', (chunk) => {
      socket.cork();
      parser.push(chunk);
      socket.uncork();
    });
    socket.on('error', () => {});
  });
  // A socket file left by a killed run would make listen fail with EADDRINUSE.
  if (params.socketPath) rmSync(params.socketPath, { force: true });
  await new Promise((resolve) => server.listen(listenAddress(params), resolve));
  return { address: boundAddress(params, server.address()), close: () => new Promise((r) => server.close(r)) };
});
