import { expect, it } from 'vitest';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { waitFor, cleanups } from '@skein/test-utils';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { REVERSE_CONTROL_KIND } from '../src/wire/reverse-control.js';
import { olderClientTransport } from './harness.js';

/*
 * A reverse call given up on (timed out) keeps its slot until its answer, which a hung or
 * vanished client never sends. Counted as the connection's work, it kept the connection from the
 * idle timeout for good: one unanswered call was enough (a whole window of them is what closes
 * a stuck peer, reverse-caller.ts peerStuck, and only while more calls wait).
 */

const cleanup = cleanups<() => Promise<unknown>>();

it('a connection whose only reverse call timed out unanswered (a hung client) is still closed for idleness', async () => {
  const server = new RpcServer({ dispatch: createRouter({ 1: (req) => req.msg }), idleTimeoutMs: 300, tickMs: 50 });
  const transport = tcpTransport(nodeRuntime);
  const { port } = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  // An older client, which reads no reverse cancels: the call keeps its slot (reverse-call-control.test.ts has the newer ones').
  const c = await ClientStream.connect({ transport: olderClientTransport(REVERSE_CONTROL_KIND), address: `127.0.0.1:${port}`, keepaliveMs: 0, serve: createRouter({ hang: () => new Promise(() => {}) }) });
  cleanup.push(async () => c.destroy());
  await waitFor(() => server.openConnections().some((x) => x.caller) || undefined, { what: 'serving agreed' });
  const caller = server.openConnections().find((x) => x.caller)!.caller!;
  const err = await new Promise<unknown>((resolve) => caller.send('hang', new Uint8Array(0), { timeoutMs: 100 }, (e) => resolve(e)));
  expect(err).toMatchObject({ codeName: 'Timeout' });
  await waitFor(() => c.state === 'closed', { what: 'the connection closed for idleness', timeoutMs: 10_000 });
});
