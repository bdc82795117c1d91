import { ErrorCode, RpcError, silentLogger, type FrameConn, type Transport } from '@skein/core';
import net from 'node:net';
import { cleanups, connectRazorClient, memoryLogger, portOf, rawConnect, suiteCerts, testTls, waitFor, within } from '@skein/test-utils';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { ClientStream, FailoverPool, RpcServer, createRouter, type RpcServerOptions } from '../src/index.js';
import { HELLO_SEQ } from '../src/wire/hello.js';
import { errorStringFrame } from './golden.js';
import { requestFrame, requestFrames, responseFrames, transport } from './harness.js';
import { str } from './pool-harness.js';
import { HELLO_ACTION } from '../src/wire/protocol.js';

/*
 * A connection past a cap was closed before anything was read, and its client could not tell:
 * its calls failed IO "may have run" (write EPIPE), so a FailoverPool did not send a
 * non-idempotent one elsewhere (found by an operator trial). The server now answers the hello
 * it has not read with why (rpc_overloaded, seq 0) before the close: still no read.
 */

const cleanup = cleanups();
const { serverTls, clientTls } = testTls(suiteCerts());

/** A transport whose listeners keep every connection they accept, to read what the server read of each (receivedBytes). */
function keepingTransport(base: Transport = transport): Transport & { accepted: FrameConn[] } {
  const accepted: FrameConn[] = [];
  return {
    name: base.name,
    accepted,
    connect: (...args) => base.connect(...args),
    listen: (address, spec, accept, opts) =>
      base.listen(address, spec, (conn) => {
        accepted.push(conn);
        accept(conn);
      }, opts),
  };
}

/** A server of one action counting its runs, at its cap of one connection, held by a client of the test's. */
async function fullServer(opts: Partial<RpcServerOptions> = {}, base: Transport = transport, client: Transport = transport) {
  let ran = 0;
  const t = keepingTransport(base);
  const logger = memoryLogger();
  const server = new RpcServer({ dispatch: createRouter({ op: () => (ran++, str('full')) }, silentLogger), logger, maxConnections: 1, ...opts });
  const address = `127.0.0.1:${portOf(await server.listen(t, '127.0.0.1:0'))}`;
  cleanup.push(() => server.close());
  const holder = await ClientStream.connect({ transport: client, address });
  cleanup.push(() => holder.destroy());
  await holder.call('op');
  return { server, address, logger, accepted: t.accepted, ran: () => ran - 1 };
}

const outcome = (p: Promise<unknown>) => p.then(() => 'ran', (e: RpcError) => e);

describe('a connection refused at a cap is told why, unread', () => {
  it("fails the client's call Overloaded, safe to send elsewhere, naming the cap, not IO", async () => {
    const s = await fullServer();
    const client = await ClientStream.connect({ transport, address: s.address });
    cleanup.push(() => client.destroy());
    const err = await within(outcome(client.call('op')), 10_000, 'call');
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Overloaded, retry: 'safe' });
    expect((err as RpcError).message).toMatch(/connection limit reached \(maxConnections\)/);
    expect(s.ran()).toBe(0);
    // Later calls fail at once, unsent, with the same words.
    const later = await outcome(client.call('op'));
    expect(later).toMatchObject({ retry: 'safe' });
    expect((later as RpcError).message).toMatch(/maxConnections/);
    expect(await client.closed()).toMatchObject({ code: ErrorCode.Overloaded });
  });

  it('lets a FailoverPool run a non-idempotent call once, on the server with room (as before: it pings a new connection before it sends calls there)', async () => {
    const full = await fullServer();
    let ranFree = 0;
    const free = new RpcServer({ dispatch: createRouter({ op: () => (ranFree++, str('free')) }, silentLogger), logger: silentLogger });
    const freeAddress = `127.0.0.1:${portOf(await free.listen(transport, '127.0.0.1:0'))}`;
    cleanup.push(() => free.close());
    const pool = new FailoverPool({ transport, servers: [full.address, freeAddress], strategy: 'leader' });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const reply = await within(pool.call('op'), 10_000, 'pool call');
    expect(new TextDecoder().decode(reply.msg)).toBe('free');
    expect(ranFree).toBe(1);
    expect(full.ran()).toBe(0);
  });

  it("says why in a pool's failure when only the full server is there: its cap, not a write's EPIPE", async () => {
    const full = await fullServer();
    const pool = new FailoverPool({ transport, servers: [full.address] });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const err = await within(outcome(pool.call('op', undefined, { timeoutMs: 300 })), 10_000, 'pool call');
    expect(err).toMatchObject({ retry: 'safe' });
    expect((err as RpcError).message).toMatch(/connection limit reached \(maxConnections\)/);
    expect(full.ran()).toBe(0);
  });

  it('costs a flood at the cap no read: one pre-made frame each, and the warn lines as before', async () => {
    const s = await fullServer();
    const N = 20;
    const peers = await Promise.all(Array.from({ length: N }, () => rawConnect(s.address)));
    cleanup.push(() => peers.forEach((p) => p.destroy()));
    for (const p of peers) p.write(requestFrame('op', 1));
    await within(Promise.all(peers.map((p) => p.closedByPeer)), 10_000, 'refused closes');
    await waitFor(() => s.server.stats().refused === N);
    // Each got the same one frame: the answer to a hello (seq 0) it may not even have sent, rpc_overloaded with why.
    const first = peers[0]!.received();
    for (const p of peers) expect(Buffer.compare(p.received(), first)).toBe(0);
    const frames = responseFrames(first);
    expect(frames.length).toBe(1);
    expect(frames[0]!.seq).toBe(HELLO_SEQ);
    expect(new TextDecoder().decode(frames[0]!.body)).toMatch(/^rpc_overloaded:connection limit reached \(maxConnections\)/);
    // Nothing of the refused ones was read (the first accepted is the holder).
    expect(s.accepted.length).toBe(N + 1);
    expect(s.accepted.slice(1).map((c) => c.receivedBytes)).toEqual(Array(N).fill(0));
    expect(s.ran()).toBe(0);
    // One warn line for the stretch, as before: not one per connection.
    const warned = s.logger.lines.filter((l) => l.level === 'warn');
    expect(warned.map((l) => l.msg)).toEqual(['connection limit reached: refusing new connections']);
    expect(warned[0]!.obj).toMatchObject({ cap: 'maxConnections', maxConnections: 1 });
  });

  it('is dropped by a razor v1 client, which sent no hello: its call fails as a lost one, never answered by the refusal', async () => {
    const s = await fullServer();
    const razor = await connectRazorClient(s.address);
    cleanup.push(() => razor.destroy());
    const err = await within(outcome(razor.call('op')), 10_000, 'razor call');
    expect((err as Error).message).toMatch(/rpc_io_err/);
    expect(s.ran()).toBe(0);
  });

  it('names the kind whose cap refused (clients.maxConnections)', async () => {
    const s = await fullServer({ maxConnections: 10, clients: { maxConnections: 1 } });
    const client = await ClientStream.connect({ transport, address: s.address });
    cleanup.push(() => client.destroy());
    const err = await within(outcome(client.call('op')), 10_000, 'call');
    expect(err).toMatchObject({ code: ErrorCode.Overloaded, retry: 'safe' });
    expect((err as RpcError).message).toMatch(/connection limit reached \(clients\.maxConnections\)/);
  });

  it('over TLS closes a refused connection at once, as before: no write waits for a handshake that may never come', async () => {
    const clientT = tcpTransport(nodeRuntime, { tls: clientTls() });
    const s = await fullServer({}, tcpTransport(nodeRuntime, { tls: serverTls() }), clientT);
    // A stranger that never starts its handshake: closed at accept, sent nothing in the clear.
    const raw = await rawConnect(s.address);
    cleanup.push(() => raw.destroy());
    await within(raw.closedByPeer, 10_000, 'the refused TLS connection closed');
    expect(raw.received().length).toBe(0);
    // A TLS client is refused so too: its connect (or its call) fails, and nothing ran.
    const err = await within(outcome(ClientStream.connect({ transport: clientT, address: s.address }).then((c) => (cleanup.push(() => c.destroy()), c.call('op')))), 10_000, 'TLS client');
    expect(err).toBeInstanceOf(RpcError);
    expect(s.server.stats()).toMatchObject({ connections: 1, refused: 2 });
    expect(s.ran()).toBe(0);
  });

  it("reads only Overloaded in a hello's answer as nothing run: another code there (a razor v1 gateway passing on a downstream's words) leaves a lost call 'may have run'", async () => {
    // A gateway that answers the hello with what its downstream said (InvalidArgument), runs the
    // call it read with it, and drops the connection before answering it.
    let ran = 0;
    const gateway = net.createServer((s) => {
      s.on('error', () => {});
      let got = new Uint8Array(0);
      s.on('data', (chunk: Buffer) => {
        got = new Uint8Array(Buffer.concat([got, chunk]));
        const frames = requestFrames(got);
        // The call left with the hello, in one write (a call with no deadline or head is not held for its answer).
        if (!frames.some((f) => f.action === HELLO_ACTION) || ran > 0 || !frames.some((f) => f.action !== HELLO_ACTION)) return;
        ran++;
        s.write(errorStringFrame(HELLO_SEQ, 'rpc_invalid_argument:numeric action 2147483392 is not served here'));
        setImmediate(() => s.destroy());
      });
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => gateway.close(() => r())));
    const client = await ClientStream.connect({ transport, address: `127.0.0.1:${(gateway.address() as net.AddressInfo).port}`, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const err = await within(outcome(client.call('op', new Uint8Array([1]))), 10_000, 'call');
    expect(ran).toBe(1);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).retry).not.toBe('safe');
  });
});
