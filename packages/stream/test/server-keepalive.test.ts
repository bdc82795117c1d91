import { EMPTY_BYTES } from '@skein/core';
import { ManualClock, connectRazorClient, rawConnect, sleep, startProcess, startTcpRelay, waitFor, type RawSocket, cleanups } from '@skein/test-utils';
import { uwsTransport, wsTransport } from '@skein/transport-ws';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type RpcServerOptions } from '../src/index.js';
import { golden } from './golden.js';
import { requestFrame, responseFrames, startServer, transport, u32 } from './harness.js';

/*
 * The server's keepalive (docs/protocol.md, "Server pings"). Before it, a client that froze
 * (SIGSTOP) or lost its link for good mid-stream held its handler, its stream slot and its
 * memory on the server for ever: the server only answered the client's pings, and the idle
 * timeout does not apply while a call or stream is open.
 */

const cleanup = cleanups();

/** Small periods, so that "several keepalive periods" is a fraction of a second. */
const FAST: Partial<RpcServerOptions> = { keepaliveMs: 100, keepaliveTimeoutMs: 200, tickMs: 20, closeWaitMs: 0 };
/** The safety net of every wait: far past the bound (keepaliveMs + keepaliveTimeoutMs + two ticks). */
const BOUND = { timeoutMs: 10_000 };

async function serve(table: Parameters<typeof startServer>[0], opts: Partial<RpcServerOptions> = FAST) {
  const s = await startServer(table, opts);
  cleanup.push(() => s.server.close());
  return s;
}

/** A raw Skein peer that sent `hello` and read its answer: what it receives next is the server's own. */
async function greeted(address: string, hello: Uint8Array): Promise<RawSocket> {
  const raw = await rawConnect(address);
  cleanup.push(() => raw.destroy());
  raw.write(hello);
  await waitFor(() => raw.received().length >= 20 || undefined, { what: 'the hello answer' });
  return raw;
}

const helloAnswerLength = (raw: RawSocket): number => 20 + raw.received().readUInt32LE(4);

describe('server pings', () => {
  it('a client process frozen with a server stream open and no deadline: the server ends the connection, the handler is told', async () => {
    let aborted = false;
    let ended = false;
    const s = await serve({
      hold: async (req) => {
        await req.stream!.write(u32(1));
        await new Promise((resolve) => req.signal.addEventListener('abort', resolve, { once: true }));
        aborted = true;
        ended = true;
        return EMPTY_BYTES;
      },
    });
    const holder = startProcess(process.execPath, [fileURLToPath(new URL('./fixtures/stream-holder.mjs', import.meta.url)), s.address]);
    cleanup.push(() => (holder.kill('SIGKILL'), holder.exited));
    const [, accepted] = (await holder.waitForLine(/^item 4 hello (.*)$/))!;
    // The server's answer accepted its offer: it may ping this client.
    expect(accepted!.split(',')).toContain('21');
    expect(s.server.stats().connections).toBe(1);
    holder.kill('SIGSTOP');
    await waitFor(() => (aborted && ended && s.server.stats().connections === 0) || undefined, { ...BOUND, what: 'the frozen client\'s connection ended on the server' });
    expect(s.server.stats().inFlight).toBe(0);
    expect(s.server.openConnections()).toEqual([]);
  });

  it('a live client that is quiet is not closed: it answers the pings through a silent stream and a slow call', async () => {
    const quietFor = 1000; // ten keepalive periods
    const s = await serve({
      slow: async () => (await sleep(quietFor), u32(7)),
      silent: async () => (await sleep(quietFor), u32(8)),
    });
    // Its own keepalive off: only its answers to the server's pings tell the server it is there.
    const client = await ClientStream.connect({ transport, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const stream = client.openStream('silent');
    const items: unknown[] = [];
    const drained = (async () => {
      for await (const item of stream) items.push(item);
    })();
    const reply = await client.call('slow', EMPTY_BYTES);
    await drained;
    expect(reply.msg).toEqual(u32(7));
    expect((await stream.result).msg).toEqual(u32(8));
    expect(items).toEqual([]);
    expect(client.state).toBe('open');
    expect(s.server.stats().connections).toBe(1);
  });

  it('a live client whose request waits at the cap (the server not reading it) is not closed while its pong waits unread', async () => {
    const s = await serve({ slow: async () => (await sleep(800), u32(1)) }, { ...FAST, maxInFlightPerConn: 1 });
    const client = await ClientStream.connect({ transport, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    // The second is held past the cap of one, and the server stops reading the connection until the first is answered.
    const replies = await Promise.all([client.call('slow', EMPTY_BYTES), client.call('slow', EMPTY_BYTES)]);
    expect(replies.map((r) => r.msg)).toEqual([u32(1), u32(1)]);
    expect(client.state).toBe('open');
  });

  it('a live client reading a large reply slowly but steadily (the server paused on its full send buffer) is not closed', async () => {
    // 32 MiB at 8 MiB/s: the server's send buffer stays over its mark for seconds, many keepalive periods.
    const size = 32 * 1024 * 1024;
    const s = await serve({ big: () => ({ msg: EMPTY_BYTES, blob: new Uint8Array(size).fill(7) }) });
    const relay = await startTcpRelay(s.address);
    cleanup.push(() => relay.close());
    const client = await ClientStream.connect({ transport, address: relay.address });
    cleanup.push(() => client.destroy());
    relay.throttle(8 * 1024 * 1024);
    const reply = await client.call('big', EMPTY_BYTES, { timeoutMs: 60_000 });
    expect(reply.blob.length).toBe(size);
    expect(client.state).toBe('open');
  }, 30_000);

  describe.each([
    ['ws', () => wsTransport()],
    ['uWebSockets.js', () => uwsTransport()],
  ])('over WebSocket, a %s server', (_name, serverTransport) => {
    it('a quiet client answers the pings through ten keepalive periods (the ping passes the message framing, sent from the tick)', async () => {
      const server = new RpcServer({ dispatch: createRouter({ slow: async () => (await sleep(1000), u32(5)) }), ...FAST });
      cleanup.push(() => server.close());
      const a = (await server.listen(serverTransport(), '127.0.0.1:0')) as { port: number };
      const client = await ClientStream.connect({ transport: wsTransport(), address: `127.0.0.1:${a.port}`, keepaliveMs: 0 });
      cleanup.push(() => client.destroy());
      expect((await client.call('slow', EMPTY_BYTES)).msg).toEqual(u32(5));
      expect(client.hello.accepted).toContain(21);
      expect(client.state).toBe('open');
      expect(server.stats().connections).toBe(1);
    });
  });

  // An upload of one large frame, read steadily: the pong waits behind it, so the frame under way counts as heard.
  it.each([
    ['TCP, read timeout off', () => transport, () => transport, { readTimeoutMs: 0 }],
    ['ws, read timeout off', () => wsTransport(), () => wsTransport(), { readTimeoutMs: 0 }],
    // ws's midFrame means "stalled since the last look" and changes as it is read: on, the read timeout reads it too.
    ['ws, read timeout on', () => wsTransport(), () => wsTransport(), {}],
  ] as const)('a live client uploading a large request slowly but steadily is not closed (%s)', async (_name, serverTransport, clientTransport, extra) => {
    const size = 32 * 1024 * 1024;
    const server = new RpcServer({ dispatch: createRouter({ sink: (req) => u32(req.blob.length) }), ...FAST, ...extra });
    cleanup.push(() => server.close());
    const a = (await server.listen(serverTransport(), '127.0.0.1:0')) as { port: number };
    const relay = await startTcpRelay(`127.0.0.1:${a.port}`);
    cleanup.push(() => relay.close());
    const client = await ClientStream.connect({ transport: clientTransport(), address: relay.address });
    cleanup.push(() => client.destroy());
    relay.throttle(8 * 1024 * 1024);
    const reply = await client.call('sink', EMPTY_BYTES, { blob: new Uint8Array(size), timeoutMs: 60_000 });
    expect(reply.msg).toEqual(u32(size));
    expect(client.state).toBe('open');
  }, 30_000);

  // Reproduced (it is closed); left as a known gap, documented in docs/protocol.md "Server pings".
  it.todo(
    'a live client uploading one large message slowly over uWebSockets.js for longer than keepaliveMs + keepaliveTimeoutMs is not closed ' +
      '(todo: uWebSockets.js shows a message only whole, so a server cannot tell a partly received one from silence)',
  );

  it('on the wire: a ping (flag 0x19, seq 0) after keepaliveMs of silence; answered, the connection stays; unanswered, it ends', async () => {
    const s = await serve({});
    const raw = await greeted(s.address, golden.helloRequestFull);
    const answer = raw.received().subarray(0, helloAnswerLength(raw));
    expect(answer).toEqual(Buffer.from(golden.helloAnswerFull));
    // Answer three pings, one by one: each answer keeps the connection.
    for (let n = 1; n <= 3; n++) {
      await waitFor(() => raw.received().length >= answer.length + 20 * n || undefined, { ...BOUND, what: `ping ${n}` });
      expect(raw.received().subarray(answer.length + 20 * (n - 1))).toEqual(Buffer.from(golden.serverPing));
      raw.write(golden.serverPong);
    }
    expect(raw.peerClosed).toBe(false);
    // Then silence: the next ping goes unanswered and the server ends the connection.
    expect(await raw.closedByPeer).toBeDefined();
    expect(raw.received().length).toBe(answer.length + 20 * 4);
  });

  it('a server whose event loop stalled right after a ping does not end the connection on its first tick after, before reading the answer waiting in its socket', async () => {
    const clock = new ManualClock();
    const s = await serve({}, { ...FAST, clock });
    const raw = await greeted(s.address, golden.helloRequestFull);
    const answered = helloAnswerLength(raw);
    clock.advance(20); // heard: the hello
    clock.advance(100); // keepaliveMs of silence: the ping goes
    await waitFor(() => raw.received().length >= answered + 20 || undefined, { ...BOUND, what: 'the ping' });
    // The answer goes at once, while the server is busy for longer than keepaliveTimeoutMs; its
    // first tick after comes before it reads anything (timers run before I/O in an event loop).
    raw.write(golden.serverPong);
    clock.stall(300);
    clock.fireAll();
    // Still open: a ping of the client's own is answered.
    raw.write(requestFrame(0, 9));
    await waitFor(() => raw.received().length >= answered + 40 || raw.peerClosed || undefined, { ...BOUND, what: 'the answer to the ping, or the close' });
    expect(raw.peerClosed).toBe(false);
    clock.advance(20); // heard: the answer and the ping
    // A ping that does go unanswered still ends it, as many ticks later as its timeout takes.
    clock.advance(100 + 200 + 40);
    expect(await raw.closedByPeer).toBeDefined();
  });

  it('a client flooding answers no ping asked for gets nothing back for them: each costs a read, no write, no call', async () => {
    let calls = 0;
    const s = await serve({ x: () => (calls++, EMPTY_BYTES) });
    const raw = await greeted(s.address, golden.helloRequestFull);
    const answered = helloAnswerLength(raw);
    // A thousand answers, then a ping of its own: the ping's answer is all that comes back.
    raw.write(Buffer.concat([...Array.from({ length: 1000 }, () => golden.serverPong), requestFrame(0, 9)]));
    // Answers go in order: whatever the flood was answered with would come before the ping's.
    const after = () => responseFrames(raw.received().subarray(answered));
    await waitFor(() => after().some((f) => f.seq === 9) || undefined, { ...BOUND, what: 'the answer to the ping' });
    expect(after()).toEqual([{ seq: 9, flag: 0, body: Buffer.alloc(0) }]);
    expect(calls).toBe(0);
    expect(raw.peerClosed).toBe(false);
  });

  it('a client whose credentials the server is still judging answers the pings and stays', async () => {
    const judged = { n: 0 };
    // The hook takes ten keepalive periods: the client's answers come while its credentials are pending.
    const authenticate = async ({ text }: { text: string }) => (await sleep(1000), judged.n++, { principal: { name: text } });
    const s = await serve({ who: (req) => new TextEncoder().encode((req.principal as { name: string }).name) }, { ...FAST, authenticate });
    const client = await ClientStream.connect({ transport, address: s.address, credentials: 'ann', keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const reply = await client.call('who', EMPTY_BYTES);
    expect(new TextDecoder().decode(reply.msg)).toBe('ann');
    expect(judged.n).toBe(1);
    expect(client.state).toBe('open');
  });

  it('never pings a razor v1 client nor a Skein client that did not offer it, and closes neither', async () => {
    const s = await serve({ slow: async () => (await sleep(800), u32(9)) });
    const razor = await connectRazorClient(s.address);
    cleanup.push(() => razor.destroy());
    const older = await greeted(s.address, golden.helloRequestNoPings);
    const olderAnswer = helloAnswerLength(older);
    let razorClosed = false;
    void razor.closed.then(() => (razorClosed = true));
    // A call that runs for eight keepalive periods on the razor client, and plain silence on the other.
    const reply = await razor.call('slow');
    expect(reply.flag).toBe(0);
    expect(razor.flags).toEqual([0]);
    expect(razorClosed).toBe(false);
    expect(older.received().length).toBe(olderAnswer);
    expect(older.peerClosed).toBe(false);
    expect(s.server.stats().connections).toBe(2);
  });

  it('keepaliveMs 0 turns it off, top-level or per kind', async () => {
    const off = await serve({}, { ...FAST, keepaliveMs: 0 });
    const offForClients = await serve({}, { ...FAST, clients: { keepaliveMs: 0 } });
    const a = await greeted(off.address, golden.helloRequestFull);
    const b = await greeted(offForClients.address, golden.helloRequestFull);
    await sleep(800);
    for (const raw of [a, b]) {
      expect(raw.received().length).toBe(helloAnswerLength(raw));
      expect(raw.peerClosed).toBe(false);
    }
  });

  it('a peer is held to peers.keepaliveMs, a client to the top-level one', async () => {
    // The first connection is a peer (admitted at accept by its order), the second a client.
    let accepted = 0;
    const s = await serve({}, { ...FAST, peers: { admit: () => ++accepted === 1, keepaliveMs: 0 } });
    const peer = await greeted(s.address, golden.helloRequestFull);
    const client = await greeted(s.address, golden.helloRequestFull);
    await waitFor(() => client.received().length >= helloAnswerLength(client) + 20 || undefined, { ...BOUND, what: "the client's ping" });
    client.write(golden.serverPong);
    await waitFor(() => client.received().length >= helloAnswerLength(client) + 40 || undefined, { ...BOUND, what: "the client's second ping" });
    // The peer, silent for longer (a keepalive period past the first ping any peer would have had), was never pinged.
    expect(peer.received().length).toBe(helloAnswerLength(peer));
    expect(peer.peerClosed).toBe(false);
  });

  it('refuses a keepaliveTimeoutMs of 0 and a negative keepaliveMs, naming the option', () => {
    expect(() => new RpcServer({ dispatch: createRouter({}), keepaliveTimeoutMs: 0 })).toThrow(/keepaliveTimeoutMs/);
    expect(() => new RpcServer({ dispatch: createRouter({}), peers: { admit: () => false, keepaliveMs: -1 } })).toThrow(/peers\.keepaliveMs/);
  });
});
