import { ErrorCode, RpcError, type FrameConn, type Transport } from '@skein/core';
import { ManualClock, deferred, rawConnect, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type ActionHandler, type Authenticate, type RpcServerOptions } from '../src/index.js';
import { Concurrency, memoryLogger, rawPeer, transport } from './harness.js';
import { golden } from './golden.js';
import { readErrorBytes, readResponseHeader, writeRequestHeader } from '../src/wire/protocol.js';

const cleanup = cleanups();

/** `peer-<n>` is a peer's token, `user-<n>` a client's: both authenticate, only the first is admitted as a peer. */
const tokens: Authenticate = ({ text }) => (text.startsWith('peer-') || text.startsWith('user-') ? { principal: text } : undefined);
const admit = (c: { principal?: unknown }): boolean => typeof c.principal === 'string' && c.principal.startsWith('peer-');

async function start(table: Record<string, ActionHandler>, opts: Partial<RpcServerOptions>) {
  const server = new RpcServer({ dispatch: createRouter(table), authenticate: tokens, requireAuth: false, ...opts });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  const address = `${(a as { host: string }).host}:${(a as { port: number }).port}`;
  const connect = async (token?: string): Promise<ClientStream> => {
    const s = await ClientStream.connect({ transport, address, credentials: token, keepaliveMs: 0 });
    cleanup.push(() => s.destroy());
    return s;
  };
  return { server, address, connect };
}

const echo: ActionHandler = (req) => req.msg;
/**
 * A call on a connection refused at a cap fails safe to send elsewhere, naming the cap: in flight
 * when the refusal came (Overloaded) or made after it (Closed, the refusal as cause).
 */
const refusedOrCode = (e: RpcError): string => (e.retry === 'safe' && /connection limit reached/.test(e.message) ? 'refused' : e.codeName);
const utf8 = new TextEncoder();

describe('RpcServer peers and clients: options', () => {
  const dispatch = createRouter({});
  const bad = (opts: Partial<RpcServerOptions>, message: RegExp) => {
    let err: unknown;
    try {
      new RpcServer({ dispatch, ...opts });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.InvalidArgument);
    expect((err as RpcError).message).toMatch(message);
  };

  it('refuses a peers section without admit, and bad per-kind limits, naming them', () => {
    bad({ peers: { maxConnections: 3 } as never }, /peers\.admit must be a function/);
    bad({ clients: { maxConnections: 0 } }, /clients\.maxConnections must be a positive integer/);
    bad({ peers: { admit, maxInFlightPerConn: 1.5 } }, /peers\.maxInFlightPerConn/);
    bad({ clients: { idleTimeoutMs: -1 } }, /clients\.idleTimeoutMs/);
    bad({ peers: { admit, readTimeoutMs: Number.NaN } }, /peers\.readTimeoutMs/);
    bad({ clients: { limits: { maxMessage: -1 } } }, /clients\.limits\.maxMessage/);
    bad({ clients: 7 as never }, /clients must be an object/);
    bad({ reverseCalls: { maxQueued: 0 } }, /reverseCalls\.maxQueued/);
  });
});

describe('RpcServer peers and clients on one listener', () => {
  it('keeps taking peers while clients are at their cap, and the other way round', async () => {
    const { server, connect } = await start({ echo }, { clients: { maxConnections: 2 }, peers: { admit, maxConnections: 2 } });
    const c1 = await connect();
    const c2 = await connect();
    await c1.call('echo');
    await c2.call('echo');
    // A third client: let in only on the chance that credentials make it a peer; its call is
    // refused unrun (bare Overloaded, safe to retry elsewhere) and its connection ends.
    const c3 = await connect();
    await expect(c3.call('echo')).rejects.toMatchObject({ code: ErrorCode.Overloaded, retry: 'safe' });
    await c3.closed();
    await waitFor(() => server.connections === 2);
    // Peers still get in (past the clients' cap, pending their credentials, then promoted).
    const p1 = await connect('peer-1');
    const p2 = await connect('peer-2');
    await p1.call('echo');
    await p2.call('echo');
    expect(server.stats()).toMatchObject({ clients: 2, peers: 2 });
    // A third peer: peers are at their cap too.
    // Told why before the close: the hello is answered with the refusal, unread.
    await expect(connect('peer-3')).rejects.toMatchObject({ code: ErrorCode.Overloaded, message: expect.stringMatching(/clients\.maxConnections/) });
    // Credentials that do not make a peer do not get past the clients' cap.
    await expect(connect('user-9').then((s) => s.call('echo'))).rejects.toBeInstanceOf(RpcError);
    // A client leaving frees a client's place, not a peer's.
    await c1.close();
    await waitFor(() => server.stats().clients === 1);
    const c4 = await connect();
    await c4.call('echo');
    // Refused: c3 (sent away at its hello), peer-3 and user-9.
    expect(server.stats()).toMatchObject({ clients: 2, peers: 2, refused: 3 });
  });

  it('closes a connection still on probation twice authTimeoutMs after it began: it held a peer\'s place', async () => {
    const clock = new ManualClock();
    const { server, address, connect } = await start({ echo }, { clock, authTimeoutMs: 1000, clients: { maxConnections: 1 }, peers: { admit, maxConnections: 2 } });
    await (await connect()).call('echo');
    // Past the clients' cap, both on probation in the peers' two places: one says nothing; one
    // makes a call, is refused and ended (after a quiet tick of draining), and keeps its own side open.
    const silent = rawPeer(address, cleanup);
    const halfOpen = await rawConnect(address);
    cleanup.push(() => halfOpen.destroy());
    halfOpen.write(golden.numericActionRequest);
    await waitFor(() => halfOpen.received().length > 0 || undefined, { what: 'the call on probation refused' });
    clock.advance(1000);
    await halfOpen.closedByPeer;
    expect(server.stats().clients).toBe(3);
    await expect(connect('peer-1')).rejects.toMatchObject({ code: ErrorCode.Overloaded, message: expect.stringMatching(/connection limit reached/) });
    clock.advance(999);
    expect(server.connections).toBe(3);
    // Before, both held their places until the idle timeout (120 s), and could come back for more.
    clock.advance(1);
    await waitFor(() => server.connections === 1, { what: 'both gone' });
    await silent.closed;
    // The peers' places are free again.
    for (const token of ['peer-1', 'peer-2']) await (await connect(token)).call('echo');
    expect(server.stats()).toMatchObject({ clients: 1, peers: 2 });
  });

  it('holds each kind to its own in-flight cap', async () => {
    const seen = { client: new Concurrency(), peer: new Concurrency() };
    const release = deferred();
    const hold: ActionHandler = async (req) => {
      const c = seen[req.conn.kind!];
      c.enter();
      await release.promise;
      c.leave();
    };
    const { connect } = await start({ hold }, { clients: { maxInFlightPerConn: 2 }, peers: { admit, maxInFlightPerConn: 8 } });
    const client = await connect();
    const peer = await connect('peer-1');
    const calls = [...Array.from({ length: 12 }, () => client.call('hold')), ...Array.from({ length: 12 }, () => peer.call('hold'))];
    await waitFor(() => seen.client.now === 2 && seen.peer.now === 8);
    release.resolve();
    await Promise.all(calls);
    expect(seen.client).toMatchObject({ max: 2, total: 12 });
    expect(seen.peer).toMatchObject({ max: 8, total: 12 });
  });

  it('holds each kind to its own frame limits', async () => {
    const { connect } = await start({ echo }, { clients: { limits: { maxMessage: 1024 } }, peers: { admit, limits: { maxMessage: 64 * 1024 } } });
    const big = new Uint8Array(4096).fill(7);
    const peer = await connect('peer-1');
    expect((await peer.call('echo', big)).msg).toEqual(big);
    const client = await connect();
    expect((await client.call('echo', new Uint8Array(1024))).msg.length).toBe(1024);
    // The hello's answer named the clients' limits (kind 26): refused here, unsent, the connection kept.
    await expect(client.call('echo', big)).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge, retry: 'safe', message: /'s limit of 1024 \(its hello's answer\): not sent$/ });
    expect((await client.call('echo', new Uint8Array(1024))).msg.length).toBe(1024);
    // One sent before that answer (right behind the hello) reaches the server, which refuses it by
    // the clients' limits; its words say by how much (news to the client).
    const early = await connect();
    await expect(early.call('echo', big)).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge, message: "message of 4096 bytes exceeds the server's limit of 1024" });
    // That client's connection is closed; the peer's goes on.
    await early.closed();
    expect(early.state).toBe('closed');
    expect(client.state).toBe('open');
    expect((await peer.call('echo', big)).msg.length).toBe(4096);
  });

  it('holds each kind to its own frame limits on a transport whose connections take no spec of their own (no setFrameSpec): each whole request is checked', async () => {
    // The listener cuts frames at the wider (peers') limits; the clients' narrower ones are the server's own check.
    const server = new RpcServer({ dispatch: createRouter({ echo }), authenticate: tokens, requireAuth: false, clients: { limits: { maxMessage: 1024 } }, peers: { admit, limits: { maxMessage: 64 * 1024 } } });
    const a = (await server.listen(withoutSetFrameSpec(transport), '127.0.0.1:0')) as { host: string; port: number };
    cleanup.push(() => server.close());
    const connect = async (token?: string): Promise<ClientStream> => {
      const s = await ClientStream.connect({ transport, address: `${a.host}:${a.port}`, credentials: token, keepaliveMs: 0 });
      cleanup.push(() => s.destroy());
      return s;
    };
    const big = new Uint8Array(4096).fill(7);
    const peer = await connect('peer-1');
    expect((await peer.call('echo', big)).msg).toEqual(big);
    // Sent right behind the hello, before its answer names the limits: it reaches the server, which refuses it by the clients' limits.
    const early = await connect();
    await expect(early.call('echo', big)).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge, message: "message of 4096 bytes exceeds the server's limit of 1024" });
    await early.closed();
    expect((await peer.call('echo', big)).msg.length).toBe(4096);
  });

  it("refuses a client's header over the clients' frame limit as it arrives, never awaiting the body it claims", async () => {
    const logger = memoryLogger();
    // A read timeout, so that a server waiting for the body (as one cutting at the peers' limit does) closes too, without the answer.
    const { server, address } = await start({ echo }, { logger, tickMs: 50, clients: { limits: { maxMessage: 1024 }, readTimeoutMs: 200 }, peers: { admit, limits: { maxMessage: 64 * 1024 } } });
    const raw = rawPeer(address, cleanup);
    // A call numbered 1, seq 7, claiming 4096 message bytes (over the clients' 1024, under the peers' 64 KiB): the header alone.
    const header = new Uint8Array(32);
    writeRequestHeader(header, 1, 0, 7, 4096, 0);
    raw.send(header);
    const got = await raw.closed;
    const head = readResponseHeader(got.subarray(0, 20));
    expect(head).toMatchObject({ flag: 2, seq: 7 });
    expect(got.length).toBe(20 + head.blobLength);
    expect((readErrorBytes(new Uint8Array(got.subarray(20))) as RpcError).code).toBe(ErrorCode.FrameTooLarge);
    await waitFor(() => server.stats().clients === 0);
    expect(logger.lines.filter((l) => l.msg === 'closing connection: malformed frame').map((l) => l.obj.reason)).toEqual(['message of 4096 bytes exceeds 1024']);
  });

  it('names the cap that refused a connection in its warn line, once per cap in a run of refusals', async () => {
    const logger = memoryLogger();
    let admitNext = false;
    const server = new RpcServer({
      dispatch: createRouter({ k: () => undefined }),
      logger,
      clients: { maxConnections: 1 },
      peers: { admit: () => admitNext, maxConnections: 1 },
    });
    cleanup.push(() => server.close());
    const a = (await server.listen(transport, '127.0.0.1:0')) as { port: number };
    const outcome = async (peer: boolean): Promise<string> => {
      admitNext = peer;
      const s = await ClientStream.connect({ transport, address: `127.0.0.1:${a.port}`, keepaliveMs: 0 });
      cleanup.push(() => s.destroy());
      return s.call('k').then(() => 'ok', refusedOrCode);
    };
    expect([await outcome(false), await outcome(true)]).toEqual(['ok', 'ok']);
    expect([await outcome(false), await outcome(true), await outcome(false), await outcome(true)]).toEqual(['refused', 'refused', 'refused', 'refused']);
    const warned = logger.lines.filter((l) => l.level === 'warn' && /connection limit/.test(l.msg ?? ''));
    expect(warned.map((l) => [l.msg, l.obj.cap])).toEqual([
      ['connection limit reached (clients.maxConnections): refusing new clients', 'clients.maxConnections'],
      ['connection limit reached (peers.maxConnections): refusing new peers', 'peers.maxConnections'],
    ]);
    expect(warned[0]!.obj).toMatchObject({ 'clients.maxConnections': 1 });
    expect(warned[1]!.obj).toMatchObject({ 'peers.maxConnections': 1 });
    expect(warned.some((l) => 'maxConnections' in l.obj)).toBe(false);
    expect(server.stats()).toMatchObject({ clients: 1, peers: 1, refused: 4 });
  });

  it('connections that come and go at a cap bring one refusal line per window, not one per connection accepted; close says the rest', async () => {
    const logger = memoryLogger();
    const clock = new ManualClock();
    const { server, connect } = await start({ echo }, { logger, clock, maxConnections: 1 });
    const outcome = (s: ClientStream) => s.call('echo').then(() => 'ok', refusedOrCode);
    const churn = async (rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        const a = await connect();
        const b = await connect();
        expect([await outcome(a), await outcome(b)]).toEqual(['ok', 'refused']);
        a.destroy();
        await waitFor(() => server.connections === 0);
      }
    };
    const lines = () => logger.lines.filter((l) => /connection limit|accepting connections/.test(l.msg ?? '')).map((l) => `${l.level} ${l.msg}`);
    const full = 'warn connection limit reached: refusing new connections';
    const more = (n: number) => `warn connection limit reached: ${n} more connections refused since the last line`;
    await churn(5);
    expect(lines()).toEqual([full]);
    clock.advance(10_000);
    expect(lines()).toEqual([full, more(4)]);
    expect(logger.lines.find((l) => l.msg === more(4).slice('warn '.length))!.obj).toEqual({ cap: 'maxConnections', maxConnections: 1, refused: 4 });
    // A window with none ends the stretch: the next connection accepted says so, once.
    clock.advance(10_000);
    await churn(1);
    expect(lines()).toEqual([full, more(4), 'info accepting connections again', full]);
    expect(logger.lines.find((l) => l.msg === 'accepting connections again')!.obj).toEqual({ refused: 5 });
    await churn(2);
    await server.close();
    expect(lines()).toEqual([full, more(4), 'info accepting connections again', full, more(2)]);
    expect(clock.running).toBe(0);
  });

  it("says so when credentials admit a peer while the peers' places are full: it goes on as a client; once per window, however many peers come and go", async () => {
    const logger = memoryLogger();
    const clock = new ManualClock();
    const { server, connect } = await start({ echo }, { logger, clock, clients: { maxConnections: 5 }, peers: { admit, maxConnections: 1 } });
    const p1 = await connect('peer-1');
    await p1.call('echo');
    // The second peer's credentials are good, but no peer's place is free: it is served as a client.
    const p2 = await connect('peer-2');
    await p2.call('echo');
    const p3 = await connect('peer-3');
    await p3.call('echo');
    expect(server.stats()).toMatchObject({ clients: 2, peers: 1 });
    const kept = () => logger.lines.filter((l) => l.level === 'warn' && /peers\.maxConnections/.test(l.msg ?? ''));
    // The operator learns why a peer got the clients' limits.
    const line = "peers at their cap (peers.maxConnections): a connection shown to be a peer (by credentials or certificate) goes on as a client, under the clients' limits";
    expect(kept().map((l) => l.msg)).toEqual([line]);
    expect(kept()[0]!.obj).toMatchObject({ 'peers.maxConnections': 1 });
    // A peer leaves and another takes its place: the next one kept out is counted, not said again
    // (peers that come and go at the cap would each bring a line).
    await p1.close();
    await waitFor(() => server.stats().peers === 0);
    const p4 = await connect('peer-4');
    await p4.call('echo');
    const p5 = await connect('peer-5');
    await p5.call('echo');
    expect(server.stats()).toMatchObject({ clients: 3, peers: 1 });
    expect(kept().map((l) => l.msg)).toEqual([line]);
    clock.advance(10_000);
    const more = 'peers at their cap (peers.maxConnections): 2 more connections shown to be peers went on as clients since the last line';
    expect(kept().map((l) => l.msg)).toEqual([line, more]);
    expect(kept()[1]!.obj).toEqual({ 'peers.maxConnections': 1, kept: 2 });
    // A window with none: the next is news, said whole.
    clock.advance(10_000);
    const p6 = await connect('peer-6');
    await p6.call('echo');
    expect(kept().map((l) => l.msg)).toEqual([line, more, line]);
  });

  it('closes idle clients on their timeout and idle peers on theirs', async () => {
    const clock = new ManualClock();
    const { connect, server } = await start({ echo }, { clock, tickMs: 100, clients: { idleTimeoutMs: 1_000 }, peers: { admit, idleTimeoutMs: 10_000 } });
    const client = await connect();
    const peer = await connect('peer-1');
    await client.call('echo');
    await peer.call('echo');
    for (let t = 0; t < 30; t++) clock.advance(100);
    await client.closed();
    await waitFor(() => server.stats().clients === 0);
    expect(peer.state).toBe('open');
    expect(server.stats()).toMatchObject({ clients: 0, peers: 1 });
    for (let t = 0; t < 80; t++) clock.advance(100);
    await peer.closed();
    await waitFor(() => server.stats().peers === 0);
  });

  it('without peers, every connection is a client under the top-level limits', async () => {
    const kinds: string[] = [];
    const { connect, server } = await start({ k: (req) => void kinds.push(req.conn.kind!) }, { maxInFlightPerConn: 4 });
    const s = await connect('peer-1');
    await s.call('k', utf8.encode('x'));
    expect(kinds).toEqual(['client']);
    expect(server.stats()).toMatchObject({ clients: 1, peers: 0 });
  });

  it('takes a connection admit throws on as a client, and without authenticate lets no client past its cap', async () => {
    const server = new RpcServer({
      dispatch: createRouter({ k: (req) => utf8.encode(req.conn.kind!) }),
      clients: { maxConnections: 1 },
      peers: {
        admit: () => {
          throw new Error('directory down');
        },
      },
    });
    cleanup.push(() => server.close());
    const a = (await server.listen(transport, '127.0.0.1:0')) as { port: number };
    const connect = async () => {
      const s = await ClientStream.connect({ transport, address: `127.0.0.1:${a.port}`, keepaliveMs: 0 });
      cleanup.push(() => s.destroy());
      return s;
    };
    const first = await connect();
    expect(new TextDecoder().decode((await first.call('k')).msg)).toBe('client');
    const second = await connect();
    expect(await second.call('k').then(() => 'ok', refusedOrCode)).toBe('refused');
    expect(server.stats()).toMatchObject({ clients: 1, peers: 0, refused: 1 });
  });

  it('admits peers at accept (by address) under their own cap, without credentials', async () => {
    let admitNext = false;
    const server = new RpcServer({
      dispatch: createRouter({ k: (req) => utf8.encode(req.conn.kind!) }),
      clients: { maxConnections: 1 },
      peers: { admit: (c) => admitNext && c.transport === 'tcp' && c.principal === undefined, maxConnections: 1 },
    });
    cleanup.push(() => server.close());
    const a = (await server.listen(transport, '127.0.0.1:0')) as { port: number };
    const kindOf = async (peer: boolean): Promise<string> => {
      admitNext = peer;
      const s = await ClientStream.connect({ transport, address: `127.0.0.1:${a.port}`, keepaliveMs: 0 });
      cleanup.push(() => s.destroy());
      // The call's answer proves the server accepted (and judged) the connection.
      return s.call('k').then((r) => new TextDecoder().decode(r.msg), refusedOrCode);
    };
    expect(await kindOf(false)).toBe('client');
    expect(await kindOf(true)).toBe('peer');
    expect(await kindOf(false)).toBe('refused');
    expect(await kindOf(true)).toBe('refused');
    expect(server.stats()).toMatchObject({ clients: 1, peers: 1, refused: 2 });
  });
});

/** `inner`, whose accepted connections have no `setFrameSpec` (as a transport may not): the server checks each whole request by its kind's limits. */
function withoutSetFrameSpec(inner: Transport): Transport {
  const bare = (c: FrameConn): FrameConn =>
    new Proxy(c, {
      get(target, prop) {
        if (prop === 'setFrameSpec') return undefined;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return { ...inner, name: inner.name, listen: (address, spec, accept, options) => inner.listen(address, spec, (c) => accept(bare(c)), options) };
}
