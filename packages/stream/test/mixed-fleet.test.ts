import { ErrorCode, RpcError } from '@skein/core';
import { connectRazorClient, deferred, ManualClock, memoryLogger, rawConnect, startRazorServer, waitFor, within, type RazorServer, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, FailoverPool, createRouter, type FailoverPoolOptions } from '../src/index.js';
import { errorStringFrame } from './golden.js';
import { requestFrame, startServer, transport } from './harness.js';
import { HELLO_VERSION, HelloRole } from '../src/wire/hello.js';
import { HELLO_ACTION } from '../src/wire/protocol.js';

// A fleet upgraded one machine at a time: Skein clients meet razor v1 servers, razor v1 clients
// meet Skein servers, and one pool may hold both (docs/protocol.md, "Mixed fleets").

const cleanup = cleanups();

const text = (s: string) => new TextEncoder().encode(s);
const textOf = (b: Uint8Array) => new TextDecoder().decode(b);
/** Requests a v1 server must never be sent: hello (answered), heads, opens, cancels, credentials... */
const extensionActions = (r: RazorServer) => r.seen.filter((q) => q.action >= 0x7fff_ff01 && q.action < 0x8000_0000);

async function razor(handlers: Parameters<typeof startRazorServer>[0]): Promise<RazorServer> {
  const r = await startRazorServer(handlers);
  cleanup.push(() => r.close());
  return r;
}

describe('a Skein client and a razor v1 server', () => {
  it('makes unary calls; credentials, metadata, deadlines and signals never reach the v1 server', async () => {
    const r = await razor({ 'Echo.say': (msg) => msg });
    const serve = createRouter({ 'Back.call': () => text('never asked') });
    const client = await ClientStream.connect({ transport, address: r.address, credentials: 'secret', serve });
    cleanup.push(() => client.destroy());
    const opts = { timeoutMs: 5000, signal: new AbortController().signal, metadata: { authorization: 'Bearer t' } };
    const replies = await within(Promise.all([client.call('Echo.say', text('a')), client.call('Echo.say', text('b'), opts)]), 5000, 'the answers');
    expect(replies.map((x) => textOf(x.msg))).toEqual(['a', 'b']);
    expect(client.hello.dialect).toBe('v1');
    expect(extensionActions(r)).toEqual([]);
    expect(r.seen.some((q) => q.name.includes('secret'))).toBe(false);
  });

  it.each([
    ['aborted', () => ({ signal: AbortSignal.abort() }), ErrorCode.Cancelled],
    ['timed out', () => ({ timeoutMs: 100 }), ErrorCode.Timeout],
  ] as const)('frees the window slot of a call %s that the v1 server never answers', async (_how, opts, code) => {
    const held = deferred<void>();
    const r = await razor({ 'Slow.hold': () => held.promise.then(() => text('late')), 'Echo.say': (msg) => msg });
    cleanup.push(() => held.resolve());
    const client = await ClientStream.connect({ transport, address: r.address, window: 1, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    await client.call('Echo.say', text('first')); // the hello's verdict is in: the peer is v1
    const ac = new AbortController();
    const o = opts();
    const stuck = client.call('Slow.hold', undefined, 'signal' in o ? { signal: ac.signal } : o).catch((e: unknown) => e);
    if ('signal' in o) ac.abort();
    expect(await within(stuck, 5000, 'the stuck call to end')).toMatchObject({ code });
    // The one slot is free again, though the v1 server still runs the call.
    expect(textOf((await within(client.call('Echo.say', text('next')), 5000, 'the next call')).msg)).toBe('next');
    expect(extensionActions(r)).toEqual([]);
  });

  it('refuses a stream at once with Version, sending the v1 server nothing of it', async () => {
    const r = await razor({ 'Echo.say': (msg) => msg });
    const client = await ClientStream.connect({ transport, address: r.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const s = client.openStream('Feed.watch', text('x'), { timeoutMs: 30_000 });
    const err = (await within(s.result.catch((e: unknown) => e), 5000, 'the refusal')) as RpcError;
    expect(err).toMatchObject({ code: ErrorCode.Version });
    expect(err.message).toMatch(/does not speak streams/);
    expect(r.seen.filter((q) => q.name === 'Feed.watch')).toEqual([]);
  });
});

describe('a razor v1 client and a Skein server', () => {
  it('never sees an extension frame, with reverse calls, streams and keepalive configured on the server', async () => {
    // One call at a time: razor's window of 128 is far past it, so the server holds the rest.
    const slow = (req: { msg: Uint8Array }) => new Promise<Uint8Array>((res) => setTimeout(() => res(req.msg), 5));
    const s = await startServer({ 'Echo.say': slow }, { reverseCalls: { timeoutMs: 1000 }, tickMs: 20, maxInFlightPerConn: 1 });
    cleanup.push(() => s.server.close());
    const v1 = await connectRazorClient(s.address);
    cleanup.push(() => v1.destroy());
    const replies = await Promise.all([v1.call('Echo.say', text('a')), v1.ping(), v1.call('Nope.x'), v1.call('Echo.say', text('b'))]);
    expect(replies.map((x) => x.flag)).toEqual([0, 0, 2, 0]);
    expect(textOf(replies[3]!.body)).toBe('b');
    expect(textOf(replies[0]!.body)).toBe('a');
    expect(textOf(replies[2]!.body)).toMatch(/^rpc_(method|service)_notfound$/);
    // The server cannot call a side that sent no hello.
    expect(s.server.openConnections().map((c) => c.caller)).toEqual([undefined]);
    expect(v1.flags.every((f) => f === 0 || f === 2)).toBe(true);
  });

  it('closes a v1 client that only pings once idleTimeoutMs passes, unlike a razor server (documented: its pool reconnects)', async () => {
    const s = await startServer({ 'Echo.say': (req) => req.msg }, { idleTimeoutMs: 200, tickMs: 20 });
    cleanup.push(() => s.server.close());
    const v1 = await connectRazorClient(s.address);
    cleanup.push(() => v1.destroy());
    expect((await v1.call('Echo.say', text('a'))).flag).toBe(0);
    let ended = false;
    void v1.closed.then(() => (ended = true));
    // razor pings each second while idle; faster here. Every ping is answered until the close.
    while (!ended) {
      const pong = await v1.ping().catch(() => undefined);
      if (pong) expect(pong.flag).toBe(0);
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(v1.flags.every((f) => f === 0)).toBe(true);
  });

  it('refuses every call of a v1 client when the server requires auth: rpc_unauthenticated, never dispatched', async () => {
    let ran = 0;
    const s = await startServer({ 'Echo.say': (req) => (ran++, req.msg) }, { authenticate: () => ({ principal: 'p' }), logger: memoryLogger() });
    cleanup.push(() => s.server.close());
    const v1 = await connectRazorClient(s.address);
    cleanup.push(() => v1.destroy());
    const reply = await v1.call('Echo.say', text('a'));
    expect(reply.flag).toBe(2);
    expect(textOf(reply.body)).toMatch(/^rpc_unauthenticated/);
    expect(ran).toBe(0);
  });

  it('ends a busy v1 client\'s connection once its calls are answered when draining, rather than refusing its calls until closeWaitMs', async () => {
    // A v1 client reads `rpc_closed` as a custom error: it does not know to leave the connection,
    // so it keeps sending on it. Only the connection's end tells it (its pool reconnects, or fails over).
    const logger = memoryLogger();
    const held = deferred<Uint8Array>();
    const s = await startServer({ 'Slow.hold': () => held.promise, 'Echo.say': (req) => req.msg }, { closeWaitMs: 60_000, logger });
    const v1 = await connectRazorClient(s.address);
    cleanup.push(() => v1.destroy());
    const inFlight = v1.call('Slow.hold');
    await waitFor(() => s.server.openConnections().length === 1 && s.server.stats().inFlight === 1, { what: 'the call to run' });
    const closing = s.server.close();
    cleanup.push(() => (v1.destroy(), closing));
    // Busy: the next call as soon as the last is answered, so the connection is never quiet for a tick.
    let refused = 0;
    let ended = false;
    void v1.closed.then(() => (ended = true));
    const busy = (async () => {
      while (!ended) {
        const r = await v1.call('Echo.say', text('x')).catch(() => undefined);
        if (r?.flag === 2 && textOf(r.body).startsWith('rpc_closed')) refused++;
      }
    })();
    await waitFor(() => refused >= 3, { what: 'calls refused while draining' });
    held.resolve(text('done'));
    expect((await inFlight).flag).toBe(0);
    await within(v1.closed, 10_000, 'the server to end the v1 connection');
    await within(closing, 10_000, 'the server to close');
    await busy;
    expect(logger.lines.some((l) => /close wait over/.test(l.msg ?? ''))).toBe(false);
    expect(v1.flags.every((f) => f === 0 || f === 2)).toBe(true);
  });
});

describe('a Skein client whose hello the server could not read, and a draining Skein server', () => {
  it('refuses its calls with Closed until it leaves, as for any peer that sent a hello: it reads Closed as leave, not the end', async () => {
    // A hello (the reserved action) comes only from a Skein client, whatever the server made of
    // it: one it answered Decode (cut short here, as from a newer or broken client) is still a
    // client that leaves on Closed, and whose calls cut off by the end would fail IO (may have
    // run) rather than Closed (unrun, sent again by its pool). The manual clock holds the drain
    // tick and closeWaitMs off: no timing decides.
    const held = deferred<Uint8Array>();
    const s = await startServer({ 1: () => held.promise, 2: (req) => req.msg }, { clock: new ManualClock(), closeWaitMs: 60_000 });
    const raw = await rawConnect(s.address);
    cleanup.push(() => raw.destroy());
    raw.write(requestFrame(HELLO_ACTION, 1, new Uint8Array([HELLO_VERSION, HelloRole.Offer, 0])));
    raw.write(requestFrame(1, 2));
    await waitFor(() => s.server.stats().inFlight === 1, { what: 'the call to run' });
    const closing = s.server.close();
    cleanup.push(() => (raw.destroy(), closing));
    held.resolve(text('done'));
    await waitFor(() => raw.received().includes('done'), { what: 'the running call answered' });
    raw.write(requestFrame(2, 3, text('x')));
    const refused = Buffer.from(errorStringFrame(3, 'rpc_closed'));
    await within(Promise.race([waitFor(() => raw.received().includes(refused), { what: 'the late call refused' }), raw.closedByPeer]), 10_000, 'an answer or the end');
    expect(raw.received().includes(refused)).toBe(true);
    raw.end();
    await within(closing, 10_000, 'the server to close');
  });
});

describe('a FailoverPool over a razor v1 server and a Skein server', () => {
  async function mixed(razorHandlers: Parameters<typeof startRazorServer>[0], skeinTable: Parameters<typeof startServer>[0], opts: Partial<FailoverPoolOptions> = {}) {
    const r = await razor(razorHandlers);
    const s = await startServer(skeinTable);
    cleanup.push(() => s.server.close());
    const pool = new FailoverPool({ transport, servers: [r.address, s.address], pool: { stream: { keepaliveMs: 0 } }, ...opts });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    return { r, s, pool };
  }

  it('takes turns between the two', async () => {
    const { pool } = await mixed({ 'Who.am': () => text('razor') }, { 'Who.am': () => text('skein') });
    const who: string[] = [];
    for (let i = 0; i < 4; i++) who.push(textOf((await pool.call('Who.am')).msg));
    expect(new Set(who)).toEqual(new Set(['razor', 'skein']));
    expect(who[0]).not.toBe(who[1]);
  });

  /** A v1 server that runs `Op.run` and then crashes (its connections cut) before answering. */
  async function crashingMix() {
    const runs = { razor: 0, skein: 0 };
    const box: { r?: RazorServer } = {};
    const m = await mixed(
      { 'Op.run': () => (runs.razor++, setTimeout(() => box.r!.dropConnections(), 10), new Promise<Uint8Array>(() => {})) },
      { 'Op.run': () => (runs.skein++, text('skein')) },
    );
    box.r = m.r;
    return { ...m, runs };
  }

  it('moves an idempotent call the v1 server lost to the Skein server', async () => {
    const { pool, runs } = await crashingMix();
    // Round-robin starts with the first server: the v1 one.
    const ok = await within(pool.call('Op.run', undefined, { idempotent: true }), 10_000, 'the idempotent call');
    expect(textOf(ok.msg)).toBe('skein');
    expect(runs).toEqual({ razor: 1, skein: 1 });
  });

  it('never runs a non-idempotent call the v1 server lost a second time', async () => {
    const { pool, runs } = await crashingMix();
    const err = await within(pool.call('Op.run').then(() => undefined, (e: unknown) => e), 10_000, 'the call');
    expect(err).toMatchObject({ code: ErrorCode.IO });
    expect(runs).toEqual({ razor: 1, skein: 0 });
  });

  it('opens every stream on the Skein server: one that meets the v1 server is refused there unsent, and moves', async () => {
    const { r, pool } = await mixed({ 'Who.am': () => text('razor') }, { 'Feed.one': async (req) => (await req.stream!.write(text('item')), text('end')) });
    for (let i = 0; i < 4; i++) {
      const s = pool.openStream('Feed.one', undefined, { timeoutMs: 10_000 });
      const items: string[] = [];
      for await (const item of s) items.push(textOf(item.msg));
      expect(items).toEqual(['item']);
      expect(textOf((await within(s.result, 10_000, 'the stream')).msg)).toBe('end');
    }
    expect(r.seen.filter((q) => q.name === 'Feed.one')).toEqual([]);
  });

  it('moves such a stream free of the retry budget, and without unseating a v1 leader', async () => {
    const { r, pool } = await mixed(
      { 'Who.am': () => text('razor') },
      { 'Feed.one': async (req) => (await req.stream!.write(text('item')), text('end')) },
      { strategy: 'leader', retryBudget: { ratio: 0, minRetriesPerSecond: 0 } },
    );
    expect(textOf((await pool.call('Who.am')).msg)).toBe('razor'); // the leader: the first server
    const s = pool.openStream('Feed.one', undefined, { timeoutMs: 10_000 });
    expect(textOf((await within(s.result, 10_000, 'the stream')).msg)).toBe('end');
    // The v1 server can do all it ever could: it stays the leader for calls.
    expect(textOf((await pool.call('Who.am')).msg)).toBe('razor');
    expect(r.seen.filter((q) => q.name === 'Who.am')).toHaveLength(2);
  });
});
