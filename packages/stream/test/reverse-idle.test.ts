import { expect, it } from 'vitest';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { waitFor, cleanups } from '@skein/test-utils';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';

/*
 * A client behind NAT that serves the server's calls (`serve`) and never calls itself: the
 * server pushes to it over its connection. Each push is answered at once, so none is out when
 * the idle tick looks; the idle timeout ("connections that make no call") took such a
 * connection for idle and cut the push channel (found by the peer-mesh example).
 */

const cleanup = cleanups<() => Promise<unknown>>();

it("the server's own calls over a connection keep it from the idle timeout; a quiet one is still closed", async () => {
  const server = new RpcServer({ dispatch: createRouter({ 1: (req) => req.msg }), idleTimeoutMs: 300, tickMs: 50 });
  const transport = tcpTransport(nodeRuntime);
  const { port } = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  const pushes: number[] = [];
  const connect = (serve: boolean) => ClientStream.connect({
    transport,
    address: `127.0.0.1:${port}`,
    ...(serve && { serve: createRouter({ push: (req) => void pushes.push(req.msg[0]!) }) }),
  });
  const pushed = await connect(true);
  const quiet = await connect(false);
  cleanup.push(() => pushed.close(), () => quiet.close());
  let quietClosed = false;
  void quiet.closed().then(() => (quietClosed = true));
  await waitFor(() => server.openConnections().some((c) => c.caller) || undefined, { what: 'the serving connection agreed' });
  const caller = server.openConnections().find((c) => c.caller)!.caller!;
  // Push every 50 ms until the quiet connection is closed for idleness, then for 400 ms more (past the idle timeout).
  for (let i = 0, until = Infinity; i < until; i++) {
    await new Promise<void>((resolve, reject) => caller.send('push', new Uint8Array([i & 0xff]), {}, (err) => (err ? reject(err) : resolve())));
    if (quietClosed && until === Infinity) until = i + 8;
    await new Promise((r) => setTimeout(r, 50));
    if (i > 200) throw new Error('the quiet connection was never closed for idleness');
  }
  expect(pushed.state).not.toBe('closed');
  expect(pushes.length).toBeGreaterThan(8);
});
