import { EMPTY_BYTES, ErrorCode, type Logger, type RpcError } from '@skein/core';
import { cleanups, deferred, memoryLogger, startTcpRelay, waitFor, within, type Deferred } from '@skein/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClientStream, ConnPool, FailoverPool, type Notify } from '../src/index.js';
import { CALLBACK_THREW } from '../src/internals/notify-guarded.js';
import { startServer, transport } from './harness.js';

const cleanup = cleanups();

// Found by helper 271: a raw `send`'s callback is its caller's code, and one that threw was
// thrown into whatever settled its call: the connection's frame handling at its answer (which
// closed the connection, failing every other call on it IO, "may have run"), the ticker at its
// timeout and the signal's listener at its cancel (uncaught), the close at the connection's end
// (the other calls never failed). Each is now logged, once, and nothing else is touched.

const BUG = 'a bug in the callback';
const enc = new TextEncoder();

/** What the process saw uncaught while a test ran: must stay empty. */
let uncaught: unknown[] = [];
const onUncaught = (err: unknown): void => void uncaught.push(err);
beforeEach(() => {
  uncaught = [];
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
});
afterEach(() => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});

/** A callback that notes how its call ended, then throws. */
function throwing(): { notify: Notify; ended: Deferred<RpcError | null> } {
  const ended = deferred<RpcError | null>();
  return {
    ended,
    notify: (err) => {
      ended.resolve(err as RpcError | null);
      throw new Error(BUG);
    },
  };
}

/** The server: `echo` answers at once, `held` when the test lets it (or its caller leaves), `never` only when its caller leaves. */
async function server() {
  const gate = deferred<void>();
  let holding = 0;
  const s = await startServer({
    echo: (req) => req.msg,
    held: async (req) => {
      holding++;
      await Promise.race([gate.promise, new Promise((r) => req.signal.addEventListener('abort', r))]);
      return enc.encode('held answered');
    },
    never: (req) => new Promise<Uint8Array>((resolve) => req.signal.addEventListener('abort', () => resolve(EMPTY_BYTES))),
  });
  cleanup.push(() => s.server.close());
  return { ...s, release: () => gate.resolve(), holding: () => holding };
}

/** The one line each callback that threw left, at error level, with its action and remote. */
function expectLogged(logger: ReturnType<typeof memoryLogger>, action: string, remote: string, times = 1): void {
  const errors = logger.lines.filter((l) => l.level === 'error');
  const line = { level: 'error', msg: CALLBACK_THREW, obj: expect.objectContaining({ action, remote, err: expect.objectContaining({ message: BUG }) }) };
  expect(errors).toEqual(Array.from({ length: times }, () => line));
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

type Server = Awaited<ReturnType<typeof server>>;
/** What the tests send through: a ClientStream, a ConnPool or a FailoverPool. */
type Carrier = Pick<ClientStream, 'call' | 'send'>;

/** Another call out on the same connection all along (its reply, once the test releases it), running. */
async function heldBeside(s: Server, carrier: Carrier): Promise<{ other: Promise<{ msg: Uint8Array }> }> {
  const other = carrier.call('held');
  await waitFor(() => s.holding() === 1, { what: 'the other call running' });
  return { other };
}

/** A send answered at once whose callback throws: told its answer (no error) first. */
async function throwsAtAnswer(carrier: Carrier): Promise<void> {
  const t = throwing();
  carrier.send('echo', enc.encode('x'), {}, t.notify);
  expect(await t.ended.promise).toBe(null);
}

/** The other call is answered, the one connection carries the next one, and nothing went uncaught. */
async function unharmed(s: Server, carrier: Carrier, other: Promise<{ msg: Uint8Array }>): Promise<void> {
  s.release();
  expect(text((await other).msg)).toBe('held answered');
  expect(text((await carrier.call('echo', enc.encode('next'))).msg)).toBe('next');
  if (carrier instanceof ClientStream) expect(carrier.state).toBe('open');
  expect(s.server.connections).toBe(1);
  expect(uncaught).toEqual([]);
}

describe("a ClientStream's raw send whose callback throws", () => {
  async function connected(logger: Logger) {
    const s = await server();
    const client = await ClientStream.connect({ transport, address: s.address, logger, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    return { s, client, ...(await heldBeside(s, client)) };
  }

  it('at its answer: logged, and the connection goes on under the other call', async () => {
    const logger = memoryLogger();
    const { s, client, other } = await connected(logger);
    await throwsAtAnswer(client);
    await unharmed(s, client, other);
    expectLogged(logger, 'echo', client.remote);
  });

  it('at its timeout: logged, not uncaught, and the connection goes on', async () => {
    const logger = memoryLogger();
    const { s, client, other } = await connected(logger);
    const t = throwing();
    client.send('never', EMPTY_BYTES, { timeoutMs: 50 }, t.notify);
    expect(await t.ended.promise).toMatchObject({ code: ErrorCode.Timeout });
    await unharmed(s, client, other);
    expectLogged(logger, 'never', client.remote);
  });

  it('at its cancel: logged, not uncaught; a call cancelled by the same signal is told too', async () => {
    const logger = memoryLogger();
    const { s, client, other } = await connected(logger);
    const abort = new AbortController();
    const t = throwing();
    client.send('never', EMPTY_BYTES, { signal: abort.signal }, t.notify);
    const sibling = client.call('never', EMPTY_BYTES, { signal: abort.signal });
    abort.abort();
    expect(await t.ended.promise).toMatchObject({ code: ErrorCode.Cancelled });
    await expect(sibling).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    await unharmed(s, client, other);
    expectLogged(logger, 'never', client.remote);
  });

  it("at its connection's close: logged, not uncaught, and the other calls out fail IO", async () => {
    const logger = memoryLogger();
    const s = await server();
    const relay = await startTcpRelay(s.address);
    cleanup.push(() => relay.close());
    const client = await ClientStream.connect({ transport, address: relay.address, logger, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const t = throwing();
    client.send('never', EMPTY_BYTES, {}, t.notify);
    const others = [client.call('never'), client.call('never')];
    const failed = others.map((p) => p.then(() => null, (err: RpcError) => err));
    await waitFor(() => s.server.stats().inFlight === 3, { what: 'all three calls running' });
    relay.cut();
    expect(await within(t.ended.promise, 10_000, 'the throwing call')).toMatchObject({ code: ErrorCode.IO });
    for (const err of await within(Promise.all(failed), 10_000, 'the other calls')) expect(err).toMatchObject({ code: ErrorCode.IO });
    await waitFor(() => client.state === 'closed', { what: 'the stream closed' });
    expect(uncaught).toEqual([]);
    expectLogged(logger, 'never', client.remote);
  });
});

describe("a ConnPool's send whose callback throws", () => {
  it('at its answer: logged, and the connection goes on under the other call', async () => {
    const logger = memoryLogger();
    const s = await server();
    const pool = new ConnPool({ transport, address: s.address, logger, maxConnections: 1, stream: { keepaliveMs: 0 } });
    cleanup.push(() => pool.close());
    const { other } = await heldBeside(s, pool);
    await throwsAtAnswer(pool);
    await unharmed(s, pool, other);
    expect(pool.stats().connections).toBe(1);
    expectLogged(logger, 'echo', pool.address);
  });

  it('at its timeout while it waits in the pool: logged, not uncaught; the call behind it goes on', async () => {
    const logger = memoryLogger();
    const s = await server();
    // One connection of one slot, taken by `held`: the next calls wait in the pool's own queue.
    const pool = new ConnPool({ transport, address: s.address, logger, maxConnections: 1, stream: { keepaliveMs: 0, window: 1 } });
    cleanup.push(() => pool.close());
    const { other } = await heldBeside(s, pool);
    const t = throwing();
    pool.send('echo', EMPTY_BYTES, { timeoutMs: 50 }, t.notify);
    const behind = pool.call('echo', enc.encode('behind'));
    expect(pool.queued).toBe(2);
    expect(await t.ended.promise).toMatchObject({ code: ErrorCode.Timeout });
    s.release();
    expect(text((await other).msg)).toBe('held answered');
    expect(text((await behind).msg)).toBe('behind');
    expect(pool.stats().connections).toBe(1);
    expect(uncaught).toEqual([]);
    expectLogged(logger, 'echo', pool.address);
  });
});

describe("a FailoverPool's send whose callback throws", () => {
  it("at its answer: logged through the FailoverPool's logger, and the connection goes on under the other call", async () => {
    const logger = memoryLogger();
    const poolLogger = memoryLogger();
    const s = await server();
    const pool = new FailoverPool({ transport, servers: [s.address], logger, pool: { logger: poolLogger, maxConnections: 1, stream: { keepaliveMs: 0 } } });
    cleanup.push(() => pool.close());
    const { other } = await heldBeside(s, pool);
    await throwsAtAnswer(pool);
    await unharmed(s, pool, other);
    expectLogged(logger, 'echo', s.address);
    expect(poolLogger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});

// Its immediate refusals too (helper 278): a send refused before it was accepted tells its
// callback at once, from within `send`, so one that threw was thrown out of `send` into its caller.
describe('a raw send refused at once whose callback throws', () => {
  it('on a closed ClientStream: logged, nothing thrown out of send, nothing uncaught', async () => {
    const logger = memoryLogger();
    const s = await server();
    const client = await ClientStream.connect({ transport, address: s.address, logger, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    await client.close();
    const t = throwing();
    expect(() => client.send('echo', EMPTY_BYTES, {}, t.notify)).not.toThrow();
    expect(await t.ended.promise).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    expect(uncaught).toEqual([]);
    expectLogged(logger, 'echo', client.remote);
  });

  it('on a closed FailoverPool: logged through its logger, nothing thrown out of send, nothing uncaught', async () => {
    const logger = memoryLogger();
    const s = await server();
    const pool = new FailoverPool({ transport, servers: [s.address], logger, pool: { stream: { keepaliveMs: 0 } } });
    await pool.close();
    const t = throwing();
    expect(() => pool.send('echo', EMPTY_BYTES, {}, t.notify)).not.toThrow();
    expect(await t.ended.promise).toMatchObject({ code: ErrorCode.Closed });
    expect(uncaught).toEqual([]);
    // The pool, by its servers: never '' (helper 297), which named nothing.
    expectLogged(logger, 'echo', `failover pool of ${s.address}`);
  });

  it('on a FailoverPool still closing (a call held on it): logged naming the pool by its servers', async () => {
    const logger = memoryLogger();
    const [s, other] = [await server(), await server()];
    const pool = new FailoverPool({ transport, servers: [s.address, other.address], logger, pool: { stream: { keepaliveMs: 0 } } });
    cleanup.push(() => pool.close());
    const held = pool.call('held');
    await waitFor(() => s.holding() + other.holding() === 1);
    const closed = pool.close();
    const t = throwing();
    expect(() => pool.send('echo', EMPTY_BYTES, {}, t.notify)).not.toThrow();
    expect(await t.ended.promise).toMatchObject({ code: ErrorCode.Closed });
    expectLogged(logger, 'echo', `failover pool of ${s.address}, ${other.address}`);
    s.release();
    other.release();
    expect(text((await held).msg)).toBe('held answered');
    await closed;
    expect(uncaught).toEqual([]);
  });

  it('on a FailoverPool, refused before any server was tried (a bad attemptTimeoutMs): logged naming the pool', async () => {
    const logger = memoryLogger();
    const s = await server();
    const pool = new FailoverPool({ transport, servers: [s.address], logger, pool: { stream: { keepaliveMs: 0 } } });
    cleanup.push(() => pool.close());
    const t = throwing();
    expect(() => pool.send('echo', EMPTY_BYTES, { attemptTimeoutMs: -1 }, t.notify)).not.toThrow();
    expect(await t.ended.promise).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(uncaught).toEqual([]);
    expectLogged(logger, 'echo', `failover pool of ${s.address}`);
  });
});
