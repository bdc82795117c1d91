import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred, memoryLogger, rawConnect, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, dispatchByService, type ActionHandler, type Dispatch, type RpcServerOptions, type ServerRequest, type StreamCall } from '../src/index.js';
import { encodeCallHead } from '../src/wire/call-head.js';
import { DATA_ACTION, ITEM_OVERHEAD, OPEN_ACTION } from '../src/wire/extension-frames.js';
import { golden } from './golden.js';
import { readU32, requestFrame as request, startServer, transport, u32 } from './harness.js';

/*
 * A connection's client-stream items unread by its handlers stay within the server's
 * `streamBudgetBytes`, whatever number of streams its client opens (docs/hardening.md): the wire
 * gives every new stream the whole window the hello named, so a stream whose window does not fit
 * beside the others' is refused unrun, bare Overloaded (safe to retry), and one that opens later,
 * after others ended, gets its window. A client that keeps to its credit is never dropped for it;
 * one that sends past it is closed, alone.
 */

const cleanup = cleanups();

/** The server's window per stream (`streamWindowBytes`), small so that windows fill at once. */
const WINDOW = 16 * 1024;
/** Four windows: the connection's budget (`streamBudgetBytes`). */
const BUDGET = 4 * WINDOW;
/** An item that costs 1 KiB of credit (its bytes and the 32 of its header): 16 fill a window to exactly 0, none overdraws it. */
const ITEM = new Uint8Array(1024 - ITEM_OVERHEAD).fill(7);

const unread = (reqs: readonly ServerRequest[]): number => reqs.reduce((n, r) => n + r.stream!.buffered, 0);

/** Writes `n` items (or until a write fails: the stream was refused), then ends; what failed it, if anything. */
async function writeItems(s: StreamCall, n: number): Promise<unknown> {
  try {
    for (let i = 0; i < n; i++) await s.write(ITEM);
    s.end();
    return undefined;
  } catch (err) {
    return err;
  }
}

/** A server whose `hold` handlers never read their items until `gate`, and whose `sum` handlers read theirs slowly, one a turn. */
async function budgetServer() {
  const gate = deferred();
  const held: ServerRequest[] = [];
  const reading: ServerRequest[] = [];
  let mostUnread = 0;
  const s = await startServer(
    {
      hold: async (req) => {
        held.push(req);
        await gate.promise;
      },
      sum: async (req) => {
        reading.push(req);
        let count = 0;
        for await (const item of req.stream!) {
          count += item.msg.length === ITEM.length ? 1 : 0;
          mostUnread = Math.max(mostUnread, unread(reading));
          await new Promise((r) => setImmediate(r));
        }
        return u32(count);
      },
      feed: async (req) => {
        req.stream!.ignoreItems();
        held.push(req);
        await gate.promise;
      },
    },
    { closeWaitMs: 0, streamWindowBytes: WINDOW, streamBudgetBytes: BUDGET },
  );
  cleanup.push(() => (gate.resolve(), s.server.close()));
  const client = await s.connect({ keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  await client.ping(); // the hello is answered: streams are agreed, at the server's window
  return { s, client, gate, held, reading, mostUnread: () => mostUnread };
}

const refusedSafe = (err: unknown): boolean => err instanceof RpcError && err.code === ErrorCode.Overloaded && err.retry === 'safe';

describe('streamBudgetBytes', () => {
  it('holds what one connection keeps unread, over 16 streams that each fill their window, within the budget', async () => {
    const { client, held } = await budgetServer();
    const streams = Array.from({ length: 16 }, () => client.openStream('hold'));
    // Each writes four windows' worth if let: a stream not held to its credit would go past its window.
    const writes = streams.map((s) => writeItems(s, 64));
    // Four windows fit the budget: those streams opened, and their items fill their windows.
    await waitFor(() => unread(held) >= BUDGET, { what: 'four windows filled' });
    // Every item written before this ping is read before it: nothing more is on its way.
    await client.ping();
    expect(held).toHaveLength(4);
    expect(unread(held)).toBe(BUDGET);
    // The other twelve were refused unrun, safe to retry; the connection stays.
    const refused = await Promise.all(streams.slice(4).map((s) => s.result.catch((err: unknown) => err)));
    expect(refused.every(refusedSafe)).toBe(true);
    expect((await Promise.all(writes.slice(4))).every((e) => e !== undefined)).toBe(true);
    expect(client.state).toBe('open');
    await client.ping();
  });

  it('lets a client that keeps to its credit finish every stream while handlers read slowly; a stream past the budget opens once others end', async () => {
    const { client, reading, mostUnread } = await budgetServer();
    // Four streams fill the budget; each sends four windows' worth, credit coming back as items are read.
    const streams = Array.from({ length: 4 }, () => client.openStream('sum'));
    // Each sends its first item and stays open (unended) until the fifth was refused: whatever the timing, none has ended by then.
    await Promise.all(streams.map((s) => s.write(ITEM)));
    await waitFor(() => reading.length === 4, { what: 'four streams opened' });
    // A fifth while they are open: its window does not fit, and it is refused before its handler runs.
    const fifth = client.openStream('sum');
    const fifthWrite = writeItems(fifth, 1);
    expect(refusedSafe(await fifth.result.catch((err: unknown) => err))).toBe(true);
    await fifthWrite;
    const writes = streams.map((s) => writeItems(s, 63));
    const counts = await Promise.all(streams.map(async (s) => readU32((await s.result).msg)));
    expect(counts).toEqual([64, 64, 64, 64]);
    expect(await Promise.all(writes)).toEqual([undefined, undefined, undefined, undefined]);
    expect(reading).toHaveLength(4);
    expect(mostUnread()).toBeLessThanOrEqual(BUDGET);
    // Their windows are free again: the same stream, opened now, runs to its end.
    const again = client.openStream('sum');
    expect(await writeItems(again, 64)).toBeUndefined();
    expect(readU32((await again.result).msg)).toBe(64);
    expect(client.state).toBe('open');
  });

  it('counts no window for a stream whose handler reads no items (ignoreItems)', async () => {
    const { client, held, reading } = await budgetServer();
    // Eight, each after the last one's handler ran: twice what the budget holds of reading streams.
    const feeds: StreamCall[] = [];
    for (let i = 1; i <= 8; i++) {
      feeds.push(client.openStream('feed'));
      await waitFor(() => held.length === i, { what: `feed ${i} opened` });
    }
    // The budget is still whole for streams that read.
    const sums = Array.from({ length: 4 }, () => client.openStream('sum'));
    await Promise.all(sums.map((s) => writeItems(s, 16)));
    expect(await Promise.all(sums.map(async (s) => readU32((await s.result).msg)))).toEqual([16, 16, 16, 16]);
    expect(reading).toHaveLength(4);
    for (const f of feeds) f.cancel();
  });
});

describe('a peer that sends past its credit', () => {
  it('is closed, alone: its handler fails IO, and a client on the same server finishes its stream', async () => {
    const { s, client, held, reading } = await budgetServer();
    // An honest stream, open before the peer breaks the rule and still writing after.
    const honest = client.openStream('sum');
    for (let i = 0; i < 8; i++) await honest.write(ITEM);
    await waitFor(() => reading.length === 1, { what: 'the honest stream opened' });

    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    peer.write(golden.helloRequestFull);
    peer.write(request(OPEN_ACTION, 1, encodeCallHead(undefined, undefined)));
    peer.write(request('hold', 1));
    await waitFor(() => held.length === 1, { what: "the peer's stream opened" });
    const peerStream = held[0]!.stream!;
    // Its window to exactly 0 (16 items of 1 KiB), then one item more: past its credit.
    const items = Array.from({ length: WINDOW / 1024 + 1 }, () => request(DATA_ACTION, 1, ITEM));
    peer.write(Buffer.concat(items));
    expect(await within(peer.closedByPeer, 5_000, 'the server ended the peer')).toBe('end');
    // Closed in turn, as a client does (else the server reads and drops what comes for its linger, 2 s, before the close is reported).
    peer.destroy();
    // Its handler reads the 16 items sent within its credit, then the loss; the one past it was never kept.
    let got = 0;
    let err: unknown;
    try {
      for await (const _ of peerStream) got++;
    } catch (e) {
      err = e;
    }
    expect(got).toBe(WINDOW / 1024);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.IO);
    expect((err as RpcError).message).toContain('without credit');

    for (let i = 0; i < 8; i++) await honest.write(ITEM);
    honest.end();
    expect(readU32((await honest.result).msg)).toBe(16);
    expect(client.state).toBe('open');
  });
});

describe('streamWindowBytes and streamBudgetBytes per kind', () => {
  it("a client is told its kind's window and held to its kind's budget, not the top-level ones", async () => {
    const held: ServerRequest[] = [];
    const gate = deferred();
    const s = await startServer(
      { hold: (req) => (held.push(req), gate.promise.then(() => undefined)) },
      { closeWaitMs: 0, streamWindowBytes: 4 * WINDOW, streamBudgetBytes: 64 * WINDOW, clients: { streamWindowBytes: WINDOW, streamBudgetBytes: 2 * WINDOW } },
    );
    cleanup.push(() => (gate.resolve(), s.server.close()));
    const client = await s.connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    await client.ping();
    expect(client.hello.agreed?.streams?.toServer).toBe(WINDOW);
    const streams = Array.from({ length: 3 }, () => client.openStream('hold'));
    expect(refusedSafe(await streams[2]!.result.catch((err: unknown) => err))).toBe(true);
    expect(held).toHaveLength(2);
  });

  it('default to a 1 MiB window and a 64 MiB budget: 64 streams that read items open at once, the 65th is refused', async () => {
    const held: ServerRequest[] = [];
    const gate = deferred();
    const s = await startServer({ hold: (req) => (held.push(req), gate.promise.then(() => undefined)) }, { closeWaitMs: 0 });
    cleanup.push(() => (gate.resolve(), s.server.close()));
    const client = await s.connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    await client.ping();
    expect(client.hello.agreed?.streams?.toServer).toBe(1024 * 1024);
    const streams = Array.from({ length: 65 }, () => client.openStream('hold'));
    expect(refusedSafe(await streams[64]!.result.catch((err: unknown) => err))).toBe(true);
    expect(held).toHaveLength(64);
  });

  it('are checked: a budget under the window, or a window that is no u32, is refused with the option named', () => {
    const dispatch = { dispatch: () => {} };
    expect(() => new RpcServer({ dispatch, streamWindowBytes: 4096, streamBudgetBytes: 4095 })).toThrow(/^streamBudgetBytes \(4095\) must be at least streamWindowBytes \(4096\)/);
    // Each named by the option the user set: a kind's, or the top-level one it follows.
    expect(() => new RpcServer({ dispatch, peers: { admit: () => false, streamBudgetBytes: 1024 } })).toThrow(/^peers\.streamBudgetBytes \(1024\) must be at least streamWindowBytes \(1048576\)/);
    expect(() => new RpcServer({ dispatch, streamWindowBytes: WINDOW, streamBudgetBytes: 2 * WINDOW, clients: { streamWindowBytes: 4 * WINDOW } })).toThrow(/^streamBudgetBytes \(32768\) must be at least clients\.streamWindowBytes \(65536\)/);
    expect(() => new RpcServer({ dispatch, peers: { admit: () => false, streamWindowBytes: 4 * WINDOW, streamBudgetBytes: 2 * WINDOW } })).toThrow(/^peers\.streamBudgetBytes \(32768\) must be at least peers\.streamWindowBytes \(65536\)/);
    expect(() => new RpcServer({ dispatch, clients: { streamWindowBytes: 0 } })).toThrow(/clients\.streamWindowBytes must be an integer/);
    expect(() => new RpcServer({ dispatch, streamWindowBytes: 2 ** 32 })).toThrow(/streamWindowBytes must be an integer/);
    // Not given, a kind's budget follows its window: a window over 64 MiB is no mistake.
    expect(() => new RpcServer({ dispatch, clients: { streamWindowBytes: 128 * 1024 * 1024 } })).not.toThrow();
  });
});

/** Three items from the server, then its answer: a stream that writes and never reads. */
const threeItems = async (req: ServerRequest): Promise<Uint8Array> => {
  for (let i = 1; i <= 3; i++) await req.stream!.write(u32(i));
  return u32(3);
};

/** `dispatch` served at the budget's test sizes, with a connected client. */
async function serving(dispatch: Dispatch, opts: Partial<RpcServerOptions> = {}) {
  const server = new RpcServer({ dispatch, closeWaitMs: 0, streamWindowBytes: WINDOW, streamBudgetBytes: BUDGET, ...opts });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  const client = await ClientStream.connect({ transport, address: `127.0.0.1:${'port' in a ? a.port : 0}`, keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  await client.ping();
  return { server, client };
}

/** Reads a stream to its end: the items' u32s, then its answer's. */
async function readAll(s: StreamCall): Promise<number[]> {
  const got: number[] = [];
  for await (const r of s) got.push(readU32(r.msg));
  got.push(readU32((await s.result).msg));
  return got;
}

describe('Dispatch.readsItems: only a stream whose handler reads items holds a window', () => {
  /** `hold` streams that keep their items unread, a `Feed.watch` that only writes, and an `idle` raw handler that only writes too. */
  function handlers(gate: Promise<void>, held: ServerRequest[], watches: ServerRequest[]): Record<string, ActionHandler> {
    return {
      hold: (req) => (held.push(req), gate.then(() => undefined)),
      idle: threeItems,
      'Feed.watch': (req) => (watches.push(req), threeItems(req)),
    };
  }

  it("opens a stream the dispatch says reads none however full the budget, with its items dropped from the start; the budget is untouched (through dispatchByService's routing)", async () => {
    const gate = deferred();
    const held: ServerRequest[] = [];
    const watches: ServerRequest[] = [];
    const table = handlers(gate.promise, held, watches);
    // The Feed service's dispatch knows its only method writes; the rest is a raw router.
    const feed: Dispatch = { ...createRouter({ 'Feed.watch': table['Feed.watch']! }), readsItems: () => false };
    const { server, client } = await serving(dispatchByService({ services: { Feed: feed }, otherwise: createRouter({ hold: table.hold! }) }));
    cleanup.push(() => gate.resolve());
    const holds = Array.from({ length: 4 }, () => client.openStream('hold'));
    await waitFor(() => held.length === 4, { what: 'four streams hold the whole budget' });
    // Twice the budget's worth of watches, each sent a window of items it will never read.
    const watchCalls = Array.from({ length: 8 }, () => client.openStream('Feed.watch'));
    const sent = watchCalls.map((w) => writeItems(w, WINDOW / 1024));
    const results = await Promise.all(watchCalls.map(readAll));
    expect(results).toEqual(Array.from({ length: 8 }, () => [1, 2, 3, 3]));
    expect(await Promise.all(sent)).toEqual(Array.from({ length: 8 }, () => undefined));
    // Discarded as they came, none kept; reading them fails as after ignoreItems.
    expect(watches.every((w) => w.stream!.buffered === 0)).toBe(true);
    await expect(watches[0]!.stream![Symbol.asyncIterator]().next()).rejects.toThrow(/reads no items/);
    // The holds still hold the budget, whole: one more is refused, and counted.
    expect(refusedSafe(await client.openStream('hold').result.catch((err: unknown) => err))).toBe(true);
    expect(server.stats().streamsRefused).toBe(1);
    for (const h of holds) h.cancel();
  });

  it('reserves the window of a raw router handler, which has no hook, though it reads nothing: it is refused with the budget full', async () => {
    const gate = deferred();
    const held: ServerRequest[] = [];
    const table = handlers(gate.promise, held, []);
    // A dispatchByService over two raw routers: neither says, so each stream is taken to read.
    const { server, client } = await serving(dispatchByService({ services: { Feed: createRouter({ 'Feed.watch': table['Feed.watch']! }) }, otherwise: createRouter(table) }));
    cleanup.push(() => gate.resolve());
    const holds = Array.from({ length: 4 }, () => client.openStream('hold'));
    await waitFor(() => held.length === 4, { what: 'four streams hold the whole budget' });
    expect(refusedSafe(await client.openStream('idle').result.catch((err: unknown) => err))).toBe(true);
    expect(refusedSafe(await client.openStream('Feed.watch').result.catch((err: unknown) => err))).toBe(true);
    expect(server.stats().streamsRefused).toBe(2);
    // Once a hold is answered, its window is free: the raw handler's stream opens and runs.
    holds[0]!.cancel();
    await waitFor(async () => (await readAll(client.openStream('idle')).catch(() => undefined)) !== undefined, { what: 'a stream opened in the freed window' });
    for (const h of holds) h.cancel();
  });

  it('says a refusal in a warn line naming the option that set the budget, then counts the rest until the server closes; stats() counts them all', async () => {
    const logger = memoryLogger();
    const gate = deferred();
    const held: ServerRequest[] = [];
    const { server, client } = await serving(createRouter(handlers(gate.promise, held, [])), { logger, streamBudgetBytes: undefined, clients: { streamBudgetBytes: 2 * WINDOW } });
    cleanup.push(() => gate.resolve());
    const holds = Array.from({ length: 2 }, () => client.openStream('hold'));
    await waitFor(() => held.length === 2, { what: "two streams hold the clients' budget" });
    for (let i = 0; i < 3; i++) expect(refusedSafe(await client.openStream('hold').result.catch((err: unknown) => err))).toBe(true);
    expect(server.stats().streamsRefused).toBe(3);
    const said = () => logger.lines.filter((l) => l.msg?.startsWith('stream budget reached'));
    expect(said()).toHaveLength(1);
    expect(said()[0]!.level).toBe('warn');
    expect(said()[0]!.obj).toMatchObject({ 'clients.streamBudgetBytes': 2 * WINDOW });
    expect(said()[0]!.msg).toMatch(/^stream budget reached \(clients\.streamBudgetBytes\): a stream whose handler reads items was refused unrun/);
    for (const h of holds) h.cancel();
    gate.resolve();
    await client.close();
    await server.close();
    expect(said().map((l) => [l.level, l.msg, l.obj.refused])).toEqual([
      ['warn', said()[0]!.msg, undefined],
      ['warn', 'stream budget reached (clients.streamBudgetBytes): 2 more streams refused since the last line', 2],
    ]);
  });

  it('a hook that throws is said once for its dispatch (a client opening streams on made-up actions writes no line each), its streams taken to read; one that is no function is refused up front', async () => {
    const logger = memoryLogger();
    const table = handlers(deferred().promise, [], []);
    const throwing: Dispatch = { ...createRouter(table), readsItems: () => { throw new Error('no such method'); } };
    const { client } = await serving(throwing, { logger });
    for (let i = 0; i < 5; i++) expect(await readAll(client.openStream('idle'))).toEqual([1, 2, 3, 3]);
    expect(logger.lines.filter((l) => l.msg?.startsWith('dispatch.readsItems threw'))).toHaveLength(1);
    // A flag where a function goes (`readsItems: false`, as `tellsHandlerEnds: true` is) would throw at every stream.
    const flagged = { ...createRouter(table), readsItems: false } as unknown as Dispatch;
    expect(() => new RpcServer({ dispatch: flagged })).toThrow(/dispatch\.readsItems must be a function/);
    expect(() => dispatchByService({ services: { Feed: flagged }, otherwise: createRouter({}) })).toThrow(/must be a Dispatch/);
  });
});
