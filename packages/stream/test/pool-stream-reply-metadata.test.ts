import { ErrorCode } from '@skein/core';
import { cleanups, deferred, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, type Metadata, type ServerRequest, type StreamCall } from '../src/index.js';
import { startServer, transport, u32 } from './harness.js';
import { localServer, str } from './pool-harness.js';
import { heldAnswer } from './held-answer.js';

// A stream's reply metadata through a pool: `onReplyMetadata` is told once, as the stream really
// ends. A refusal unrun that the pool opens again elsewhere (for room on its connection, a
// draining server's bare Closed) is no end of the caller's stream: what came with it is not
// told. Before, every attempt's end was told: `{}` for the refused one, then the answer's.
// What decides each test is what was told, once each stream ended; never time.

const cleanup = cleanups();
const WINDOW = 16 * 1024;

/** A server whose connections take one stream each (the budget is one window): `hold` sends an item and waits; `kv` sets k=v and answers. */
async function oneWindowServer() {
  const gate = deferred();
  const s = await startServer(
    {
      hold: async (req) => {
        await req.stream!.write(u32(1));
        await gate.promise;
      },
      kv: (req) => {
        req.setReplyMetadata('k', 'v');
        req.reply();
      },
    },
    { closeWaitMs: 0, streamWindowBytes: WINDOW, streamBudgetBytes: WINDOW },
  );
  cleanup.push(() => (gate.resolve(), s.server.close()));
  return { ...s, gate };
}

/** A server whose `once` stream is refused unrun the first time (bare Closed, as a draining server's, after setting attempt=refused), then sets attempt=answered and answers. */
async function refusingOnce() {
  let seen = 0;
  const s = await localServer({
    once: (req: ServerRequest) => {
      seen++;
      req.setReplyMetadata('attempt', seen === 1 ? 'refused' : 'answered');
      if (seen === 1) return void req.fail(ErrorCode.Closed);
      req.reply();
    },
  });
  cleanup.push(() => s.server.close());
  return s;
}

/** `open`'s stream, read to its end, and every record its `onReplyMetadata` was told. */
async function toldOf(open: (onReplyMetadata: (md: Metadata) => void) => StreamCall): Promise<Metadata[]> {
  const heard: Metadata[] = [];
  const s = open((md) => heard.push({ ...md }));
  await within(s.result, 10_000, 'the stream to end');
  return heard;
}

/** The first stream holds connection 1's whole budget: the next is refused there for room. */
async function holding(pool: ConnPool | FailoverPool): Promise<void> {
  const first = pool.openStream('hold');
  const item = await within(first[Symbol.asyncIterator]().next(), 10_000, 'the hold stream to run');
  expect(item.done).toBe(false);
}

describe("a stream through a pool is told its reply metadata once, the end's that is its caller's", () => {
  it('a ConnPool: refused for room on one connection and opened on another', async () => {
    const { server, address, gate } = await oneWindowServer();
    const pool = new ConnPool({ transport, address, maxConnections: 2 });
    cleanup.push(() => (gate.resolve(), pool.close()));
    await holding(pool);
    expect(await toldOf((onReplyMetadata) => pool.openStream('kv', undefined, { onReplyMetadata }))).toEqual([{ k: 'v' }]);
    // It was opened again, on a second connection.
    expect(server.stats().connections).toBe(2);
  });

  it("a FailoverPool: placed again on its server's other connection", async () => {
    const { server, address, gate } = await oneWindowServer();
    const pool = new FailoverPool({ transport, servers: [address], retries: 0, pool: { maxConnections: 2 } });
    cleanup.push(() => (gate.resolve(), within(pool.close(), 10_000, 'pool close')));
    await holding(pool);
    expect(await toldOf((onReplyMetadata) => pool.openStream('kv', undefined, { onReplyMetadata }))).toEqual([{ k: 'v' }]);
    expect(server.stats().connections).toBe(2);
  });

  it("a ConnPool: refused by a draining server's bare Closed (with metadata) and opened again", async () => {
    const s = await refusingOnce();
    const pool = new ConnPool({ transport, address: s.address, maxConnections: 1 });
    cleanup.push(() => pool.destroy());
    expect(await toldOf((onReplyMetadata) => pool.openStream('once', str('x'), { onReplyMetadata }))).toEqual([{ attempt: 'answered' }]);
    expect(s.counts.once).toBe(2);
  });

  it("a ConnPool: a caller that aborts as the refusal came, before its reopen's turn, is told nothing of the refused attempt", async () => {
    const s = await refusingOnce();
    // The refusal is held back, then read in the test's own turn, the abort right after it: the
    // reopen (a microtask on) finds the stream cancelled, and the end told is the cancel's.
    const refusal = heldAnswer(transport, 'rpc_closed');
    const pool = new ConnPool({ transport: refusal.transport, address: s.address, maxConnections: 1 });
    cleanup.push(() => pool.destroy());
    const ac = new AbortController();
    const heard: Metadata[] = [];
    const stream = pool.openStream('once', str('x'), { signal: ac.signal, onReplyMetadata: (md) => heard.push({ ...md }) });
    await waitFor(() => refusal.held || undefined, { what: 'the refusal' });
    refusal.release();
    ac.abort();
    const err = await within(stream.result.then(() => undefined, (e: Error) => e), 10_000, 'the stream to end');
    expect(err).toMatchObject({ code: ErrorCode.Cancelled });
    expect(heard).toEqual([]);
    expect(s.counts.once).toBe(1);
  });

  it('a ConnPool: a stream its refusal for room ends (no other connection to take it) is told what came with that refusal', async () => {
    const { address, gate } = await oneWindowServer();
    const pool = new ConnPool({ transport, address, maxConnections: 1 });
    cleanup.push(() => (gate.resolve(), pool.close()));
    await holding(pool);
    const heard: Metadata[] = [];
    const stream = pool.openStream('kv', undefined, { onReplyMetadata: (md) => heard.push({ ...md }) });
    const err = await within(stream.result.then(() => undefined, (e: Error) => e), 10_000, 'the stream to end');
    expect(err).toMatchObject({ code: ErrorCode.Overloaded });
    // Set aside while the pool looked for room elsewhere, and given back: the refusal is its end.
    expect(heard).toEqual([{}]);
  });

  it("a FailoverPool: refused by one server's bare Closed and opened on another; a refusal it ends with is told", async () => {
    const a = await refusingOnce();
    const b = await refusingOnce();
    const pool = new FailoverPool({ transport, servers: [a.address, b.address], strategy: 'leader' });
    cleanup.push(() => pool.destroy());
    expect(await toldOf((onReplyMetadata) => pool.openStream('once', str('x'), { onReplyMetadata }))).toEqual([{ attempt: 'answered' }]);
    // The refusal the stream ends with (no retry left) is its caller's answer: told, once.
    const c = await refusingOnce();
    const only = new FailoverPool({ transport, servers: [c.address], retries: 0 });
    cleanup.push(() => only.destroy());
    const heard: Metadata[] = [];
    const s = only.openStream('once', str('y'), { onReplyMetadata: (md) => heard.push({ ...md }) });
    const err = await within(s.result.then(() => undefined, (e: Error) => e), 10_000, 'the stream to fail');
    expect(err).toMatchObject({ code: ErrorCode.Closed });
    expect(heard).toEqual([{ attempt: 'refused' }]);
  });
});
