import { ErrorCode, RpcError, type Transport } from '@skein/core';
import { cleanups, deferred, ManualClock, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, type ServerHealthEvent, type ServerRequest } from '../src/index.js';
import { memoryLogger, startServer, transport, u32 } from './harness.js';
import { ran } from './stream-outcome.js';
import { CountingSource } from './counting-source.js';
import { heldAnswer } from './held-answer.js';

/*
 * A stream refused for its connection's `streamBudgetBytes` (bare Overloaded, unrun, before the
 * server said anything of it) is a cap of that connection alone: the server is fine. A ConnPool
 * opens it again on another of its connections (one open with room, or a new one up to
 * `maxConnections`, against which one that takes no stream and is to be retired counts not),
 * never on the one that refused it until one of that one's streams left (with none to open it
 * on, judged once the rest of the refusal's read is handled, it fails at that refusal); a
 * FailoverPool tries its server's other connections the same way before another server (after
 * its caller's abort is looked at, and with that server on its tried list once), and counts the
 * refusal against no server's breaker or outlier score. It never ran, so opening it again runs nothing twice. What decides each test is
 * whether a stream's handler ran (its first item came) or it was refused and how its error reads,
 * the server's count of refusals, and the breaker's state after those outcomes; never time (where
 * an answer's reading or a connect's failure must come at one step, the test holds it back and
 * lets it go there).
 */

const cleanup = cleanups();

const WINDOW = 16 * 1024;

/** A server whose connections each take one stream that reads items (the budget is one window, or `windows`); `hold` sends an item as it runs, then waits; `closed` refuses. */
async function oneWindowServer(windows = 1) {
  const gate = deferred();
  const held: ServerRequest[] = [];
  const s = await startServer(
    {
      hold: async (req) => {
        held.push(req);
        await req.stream!.write(u32(held.length));
        await gate.promise;
      },
      // Bare Closed, as a draining server refuses: its client's connection takes nothing more (`peerClosing`).
      closed: (req) => req.fail(ErrorCode.Closed),
    },
    { closeWaitMs: 0, streamWindowBytes: WINDOW, streamBudgetBytes: windows * WINDOW },
  );
  cleanup.push(() => (gate.resolve(), s.server.close()));
  return { ...s, held, gate };
}

const refusedUnrun = (r: 'ran' | RpcError): boolean => r instanceof RpcError && r.code === ErrorCode.Overloaded && r.retry === 'safe';

describe('a ConnPool whose connection refuses a stream for its budget', () => {
  it('opens it on another connection, and on the refusing one again once one of its streams left', async () => {
    const { server, address, held, gate } = await oneWindowServer();
    const pool = new ConnPool({ transport, address, maxConnections: 2 });
    // Its streams answered first: a pool's close waits for them.
    cleanup.push(() => (gate.resolve(), pool.close()));
    const first = pool.openStream('hold');
    expect(await ran(first)).toBe('ran');
    // Refused on the first connection (its budget holds the first's window): opened on a second.
    const second = pool.openStream('hold');
    expect(await ran(second)).toBe('ran');
    expect(server.stats().connections).toBe(2);
    // Both full, and no third connection to open: refused unrun, and says so, at its first refusal
    // (the second's, then the third's, each on a connection not refused before).
    const third = await ran(pool.openStream('hold'));
    expect(refusedUnrun(third)).toBe(true);
    expect(server.stats().streamsRefused).toBe(2);
    expect(held).toHaveLength(2);
    // The first leaves: its connection takes a stream again.
    first.cancel();
    expect(await ran(pool.openStream('hold'))).toBe('ran');
    expect(held).toHaveLength(3);
    expect(server.stats().connections).toBe(2);
  });
});

describe('a ConnPool of one connection whose connection refuses a stream for its budget', () => {
  it('fails the stream at that refusal, unrun, in its server\'s words: not opened on the connection that just refused it', async () => {
    const { server, address, held, gate } = await oneWindowServer();
    const pool = new ConnPool({ transport, address, maxConnections: 1 });
    cleanup.push(() => (gate.resolve(), pool.close()));
    expect(await ran(pool.openStream('hold'))).toBe('ran');
    const refused = await ran(pool.openStream('hold'));
    // Refused once: opened again there, it was refused again (the client learns of the budget only so).
    expect(server.stats().streamsRefused).toBe(1);
    expect(refusedUnrun(refused)).toBe(true);
    expect((refused as RpcError).message).toBe('no room for another stream on this connection (stream budget)');
    expect(held).toHaveLength(1);
  });

  it("opens it there again when that connection's other stream ends in the same read as the refusal", async () => {
    const { server, address, held, gate } = await oneWindowServer();
    // The second stream's refusal is held back with what comes after it on its connection (the
    // first stream's end), and both are read in one go, as one read of them would be.
    const refusal = heldAnswer(transport, 'no room for another stream');
    const pool = new ConnPool({ transport: refusal.transport, address, maxConnections: 1 });
    cleanup.push(() => (gate.resolve(), pool.close()));
    expect(await ran(pool.openStream('hold'))).toBe('ran');
    const second = pool.openStream('hold');
    await waitFor(() => refusal.held || undefined, { what: "the second stream's refusal" });
    gate.resolve();
    await waitFor(() => refusal.frames >= 2 || undefined, { what: "the first stream's end" });
    refusal.release();
    // Room is judged once the read is handled: the end made some. (Judged at the refusal's
    // frame, the connection still full, it failed, though nothing refused it again.)
    expect(await ran(second)).toBe('ran');
    expect(held).toHaveLength(2);
    expect(server.stats().streamsRefused).toBe(1);
  });

  it('waits for the connection replacing its old one (maxConnectionAgeMs) when refused as that one connects', async () => {
    const { address, held, gate } = await oneWindowServer();
    const connects = secondConnectHeld();
    const clock = new ManualClock();
    const pool = new ConnPool({ transport: connects.transport, address, clock, maxConnections: 1, maxConnectionAgeMs: 10_000, stream: { keepaliveMs: 0, timeoutMs: 60_000 } });
    cleanup.push(() => (gate.resolve(), connects.admit(), pool.close()));
    expect(await ran(pool.openStream('hold'))).toBe('ran');
    clock.advance(10_000); // past the connection's age, whatever the jitter: its replacement connects
    await waitFor(() => connects.started() || undefined, { what: 'the replacement connect' });
    // At maxConnections, refused on the old one: the connect under way takes it.
    const second = pool.openStream('hold');
    await waitFor(() => pool.queued === 1 || undefined, { what: 'the refused stream to wait for the new connection' });
    connects.admit();
    expect(await ran(second)).toBe('ran');
    expect(held).toHaveLength(2);
  });
});

describe("a ConnPool whose other connection drains as a stream is refused for room", () => {
  it('opens it on a fresh connection: the draining one, which the pick retires, counts against no maxConnections', async () => {
    const { address, held, gate } = await oneWindowServer(2);
    // The second refusal for room (the fourth stream's, on the first connection) is held back, to
    // be read once the second connection drains.
    const refusal = heldAnswer(transport, 'no room for another stream', 2);
    const pool = new ConnPool({ transport: refusal.transport, address, maxConnections: 2 });
    cleanup.push(() => (gate.resolve(), pool.close()));
    expect(await ran(pool.openStream('hold'))).toBe('ran');
    expect(await ran(pool.openStream('hold'))).toBe('ran');
    // Both on the first connection, full, not known so yet: the third is refused there for room
    // and opened on a second connection, whose bare Closed (a draining server's) ends it, its
    // retry spent, and leaves that connection taking nothing.
    const drained = pool.openStream('closed');
    const fourth = pool.openStream('hold');
    expect(await ran(drained)).toMatchObject({ code: ErrorCode.Closed });
    await waitFor(() => refusal.held || undefined, { what: "the fourth stream's refusal" });
    refusal.release();
    expect(await ran(fourth)).toBe('ran');
    expect(held).toHaveLength(3);
  });
});

describe('a FailoverPool whose server refuses a stream for a connection\'s budget', () => {
  it("opens it on that server's other connection, and counts no refusal against the server's breaker", async () => {
    const { address, held, gate } = await oneWindowServer();
    const events: string[] = [];
    const pool = new FailoverPool({
      transport,
      servers: [address],
      // No retries: only a placement on its server's other connection, which spends none, opens it.
      retries: 0,
      pool: { maxConnections: 2 },
      circuitBreaker: { minCalls: 2, failureRatio: 0.3 },
      onServerHealth: (e: ServerHealthEvent) => void events.push(e.kind),
    });
    cleanup.push(() => (gate.resolve(), within(pool.close(), 10_000, 'pool close')));
    const first = pool.openStream('hold');
    expect(await ran(first)).toBe('ran');
    const second = pool.openStream('hold');
    expect(await ran(second)).toBe('ran');
    // Every connection full: refused unrun after its attempts, the server still in rotation.
    for (let i = 0; i < 3; i++) expect(refusedUnrun(await ran(pool.openStream('hold')))).toBe(true);
    expect(held).toHaveLength(2);
    expect(events).toEqual([]);
    expect(pool.stats()[0]!.circuit).toBe('closed');
    // Room again (a stream left): the server takes the next one.
    first.cancel();
    expect(await ran(pool.openStream('hold'))).toBe('ran');
  });
});

describe("a FailoverPool stream whose caller aborted as its server's refusal for room came", () => {
  it('ends aborted, the refusal its cause: it is not placed again on its server first', async () => {
    const { address, held, gate } = await oneWindowServer();
    // The second stream's refusal (no room on the first connection) is held back, and read by
    // the client within its caller's abort: after the abort reads as aborted, before the
    // stream's own listener is told (a source tells its listeners in order).
    const refusal = heldAnswer(transport, 'no room for another stream');
    const pool = new FailoverPool({ transport: refusal.transport, servers: [address], retries: 0, pool: { maxConnections: 2 } });
    cleanup.push(() => (gate.resolve(), within(pool.close(), 10_000, 'pool close')));
    expect(await ran(pool.openStream('hold'))).toBe('ran');
    const source = new CountingSource();
    source.onAbort(() => refusal.release());
    const second = pool.openStream('hold', undefined, { abortSource: source });
    await waitFor(() => refusal.held || undefined, { what: "the second stream's refusal" });
    source.abort();
    const err = await within(second.result.then(() => expect.unreachable('the stream was answered'), (e: unknown) => e as RpcError), 10_000, 'the stream to end');
    // Its abort looked at first: the refusal is the last attempt's error, in its words and as its
    // cause. (Placed again first, it ended as that new attempt's own unsent abort, saying nothing of it.)
    expect(err.code).toBe(ErrorCode.Cancelled);
    expect(err.message).toMatch(/; before another attempt, the last one failed: .*no room for another stream on this connection \(stream budget\)/);
    expect((err.cause as RpcError).message).toBe('no room for another stream on this connection (stream budget)');
    expect(held).toHaveLength(1);
  });
});

/** `transport`, whose second connect waits until `refuse()` fails it or `admit()` lets it go on; the others go through. */
function secondConnectHeld() {
  let connects = 0;
  const second = deferred();
  return {
    transport: {
      name: transport.name,
      connect: (...args: Parameters<Transport['connect']>) => (++connects === 2 ? second.promise.then(() => transport.connect(...args)) : transport.connect(...args)),
      listen: (...args: Parameters<Transport['listen']>) => transport.listen(...args),
    } satisfies Transport,
    started: (): boolean => connects >= 2,
    refuse: (): void => second.reject(new RpcError(ErrorCode.Unreachable, 'connect refused by the test', { retry: 'safe' })),
    admit: (): void => second.resolve(),
  };
}

describe('a FailoverPool stream placed again for room, whose server is removed as its pool connects for it', () => {
  it('is placed on another server free, as one never placed again: its server is on its tried list once', async () => {
    const a = await oneWindowServer();
    const b = await oneWindowServer();
    const held = secondConnectHeld();
    const logger = memoryLogger();
    let removing = false;
    const pool: FailoverPool = new FailoverPool({
      transport: held.transport,
      logger,
      servers: [a.address, b.address],
      strategy: 'leader',
      // No retry: only a free placement takes it to B.
      retries: 0,
      // No resend of the `closed` call, and no tick's flush of what waits: only the steps below move anything.
      pool: {
        maxConnections: 2,
        transparentRetries: 0,
        tickMs: 60_000,
        onStateChange: (state, _previous, address) => {
          if (!removing || state !== 'connecting' || address !== a.address) return;
          removing = false;
          void pool.remove(a.address);
        },
      },
    });
    cleanup.push(() => (a.gate.resolve(), b.gate.resolve(), within(pool.close(), 10_000, 'pool close')));
    expect(await ran(pool.openStream('hold'))).toBe('ran');
    // Refused for room on A's only connection, placed again there: it waits for A's second connection, whose connect then fails.
    const stream = pool.openStream('hold');
    await waitFor(() => held.started() || undefined, { what: "the second connect to A" });
    held.refuse();
    await waitFor(() => logger.lines.some((l) => l.msg === 'extra connection failed') || undefined, { what: "A's pool to take the failed connect" });
    // A's connection then refuses a call (bare Closed): the flush of what waits retires it and
    // connects afresh, and that connect's 'connecting' removes A, closing its pool under the stream.
    removing = true;
    const refused = await new Promise<unknown>((resolve) => pool.sendTo(a.address, 'closed', new Uint8Array(0), {}, (err) => resolve(err)));
    expect(refused).toMatchObject({ code: ErrorCode.Closed });
    expect(await ran(stream)).toBe('ran');
    expect(b.held).toHaveLength(1);
    expect(a.held).toHaveLength(1);
  });
});
