import { ErrorCode, RpcError, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { deferred, portOf, suiteCerts, testTls, waitFor, within, cleanups } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type Caller } from '../src/index.js';
import { readU32, u32 } from './harness.js';

/*
 * `close()` stops taking calls as it begins, not once its listeners have closed: requests and
 * streams read while they close are refused unrun (Closed, safe to send elsewhere), and no new
 * reverse call goes. Found by an audit: the drain began only once the listeners' close resolved,
 * so a burst written right after close() ran (a batch of 50 over TCP), and with a listener slow
 * to close, the close wait (one budget for both) could cut such a call as IO, "may have run".
 * Calls already running are answered (the drain).
 */

const certs = suiteCerts();
const { serverTls, clientTls } = testTls(certs);
const cleanup = cleanups();
const BURST = 50;
const HANG_MS = 10_000;

/** Each transport a server listens on, and the client's side of it. */
const TRANSPORTS = [
  ['TCP', () => tcpTransport(nodeRuntime), () => tcpTransport(nodeRuntime)],
  ['TLS', () => tcpTransport(nodeRuntime, { tls: serverTls() }), () => tcpTransport(nodeRuntime, { tls: clientTls() })],
  ['ws', () => wsTransport(), () => wsTransport()],
  ['uWebSockets.js', () => uwsTransport(), () => wsTransport()],
] as const;

/** `inner`, with listeners whose close is done only once `closed` resolves (a listener that takes its time). */
function heldListenerClose(inner: Transport, closed: Promise<void>): Transport {
  return {
    name: inner.name,
    connect: (address, spec, options) => inner.connect(address, spec, options),
    listen: async (address, spec, accept) => {
      const listener = await inner.listen(address, spec, accept);
      return { address: listener.address, close: () => listener.close().then(() => closed) };
    },
  };
}

const caught = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

const reverseCall = (c: Caller, action: string, msg: Uint8Array) =>
  new Promise<Uint8Array>((resolve, reject) => c.send(action, msg, {}, (err, reply) => (err ? reject(err) : resolve(reply!.msg))));

/** A server running one held call when `close()` is called; counts every handler run, the server's and its client's. */
async function closingWithACallRunning(server: Transport, client: Transport, listenersClosed: Promise<void> | undefined) {
  const release = deferred<void>();
  const started = deferred<void>();
  const ran = { calls: 0, streams: 0, reverse: 0 };
  const rpc = new RpcServer({
    dispatch: createRouter({
      slow: async () => (started.resolve(), await release.promise, u32(1)),
      note: () => void ran.calls++,
      feed: () => void ran.streams++,
    }),
    closeWaitMs: 30_000,
    // The drained connection ends once it is quiet for a tick (its client does not end its side
    // on a Closed answer): a short tick spares each test the default's ~2 s. The held call keeps
    // the connection open until every refusal has come, so no tick can end it sooner.
    tickMs: 100,
  });
  cleanup.push(() => rpc.close());
  const listening = listenersClosed === undefined ? server : heldListenerClose(server, listenersClosed);
  const a = await rpc.listen(listening, '127.0.0.1:0');
  const stream = await ClientStream.connect({
    transport: client,
    address: `127.0.0.1:${portOf(a)}`,
    keepaliveMs: 0,
    serve: createRouter({ pushed: () => void ran.reverse++ }),
  });
  cleanup.push(() => stream.destroy());
  const caller = await waitFor(() => rpc.openConnections()[0]?.caller, { what: 'calls both ways agreed' });
  const inFlight = stream.call('slow');
  await started.promise;
  return { rpc, stream, caller, inFlight, ran, release: () => release.resolve() };
}

/** Sent in the same turn as `close()`: a burst of calls, a stream, and a reverse call the server makes; each refused, Closed and safe. */
async function refusedBurst(s: Awaited<ReturnType<typeof closingWithACallRunning>>): Promise<void> {
  const calls = Array.from({ length: BURST }, (_, i) => caught(s.stream.call('note', u32(i))));
  const feed = s.stream.openStream('feed');
  const pushed = caught(reverseCall(s.caller, 'pushed', u32(1)));
  const refusals = await within(Promise.all([...calls, caught(feed.result), pushed]), HANG_MS, 'the refusals');
  for (const e of refusals) {
    expect(e).toBeInstanceOf(RpcError);
    expect(e).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
  }
  expect(s.ran).toEqual({ calls: 0, streams: 0, reverse: 0 });
  // The call running when close() began is answered: the drain.
  s.release();
  expect(readU32((await within(s.inFlight, HANG_MS, 'the call in flight')).msg)).toBe(1);
}

describe.each(TRANSPORTS)('close() refuses what arrives from its first moment (%s)', (_name, server, client) => {
  it('while its listeners take their time to close: a burst of calls, a stream and a reverse call are refused unrun, the running call answered', async () => {
    const listenersClosed = deferred<void>();
    const s = await closingWithACallRunning(server(), client(), listenersClosed.promise);
    cleanup.push(() => (s.release(), listenersClosed.resolve())); // first: the server's close waits on them
    const closing = s.rpc.close();
    await refusedBurst(s);
    listenersClosed.resolve();
    await within(closing, HANG_MS, 'the server to close');
    expect(s.ran).toEqual({ calls: 0, streams: 0, reverse: 0 });
  }, 30_000);

  it("with the transport's own listener close: the burst written right after close() is refused unrun", async () => {
    const s = await closingWithACallRunning(server(), client(), undefined);
    const closing = s.rpc.close();
    await refusedBurst(s);
    await within(closing, HANG_MS, 'the server to close');
    expect(s.ran).toEqual({ calls: 0, streams: 0, reverse: 0 });
  }, 30_000);
});
