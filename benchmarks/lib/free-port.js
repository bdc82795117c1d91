import net from 'node:net';

/**
 * A TCP port free on 127.0.0.1 right now. Only for peers that must be told their port up
 * front (moleculer's static URLs name both nodes' ports); everything else listens on port 0.
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
