import { EMPTY_BYTES, ErrorCode, RpcError, silentLogger } from '@skein/core';
import { ManualClock, deferred, freePort, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, type ClientStream, type ServerRequest, type StreamCall } from '../src/index.js';
import { startServer, transport, u32 } from './harness.js';

const cleanup = cleanups();

// A call's deadline and its signal may end it in the same turn: the first of the two to happen
// decides what its caller reads (Timeout, or Cancelled with the signal's reason as its cause),
// whatever the other does right after. The client's clock is a manual one: its deadline passes
// exactly when the test moves it, never by the machine's speed.

/** A server whose handlers hold until their signal aborts (then tell why), and a client on a manual clock. */
async function setUp() {
  const started: ((req: ServerRequest) => void)[] = [];
  const hold = (req: ServerRequest) => {
    started.shift()?.(req);
    return new Promise<Uint8Array>((resolve) => req.signal.addEventListener('abort', () => resolve(EMPTY_BYTES)));
  };
  const s = await startServer({ hold }, { closeWaitMs: 0 });
  cleanup.push(() => s.server.close());
  const clock = new ManualClock();
  const client = await s.connect({ clock, tickMs: 50 });
  cleanup.push(() => client.destroy());
  await client.ping(); // the hello is answered: calls go with their heads, cancels reach the server
  const nextRequest = () => {
    const seen = deferred<ServerRequest>();
    started.push(seen.resolve);
    return seen.promise;
  };
  return { clock, client, nextRequest };
}

type Start = (client: ClientStream, opts: { timeoutMs: number; signal: AbortSignal }) => Promise<unknown>;

/** How each carrier's caller reads its end: a unary call's promise, a stream's iteration, a writer's result. */
const carriers: [string, Start][] = [
  ['a unary call', (client, opts) => client.call('hold', EMPTY_BYTES, opts).catch((e: unknown) => e)],
  [
    'a stream',
    async (client, opts) => {
      const stream: StreamCall = client.openStream('hold', EMPTY_BYTES, opts);
      try {
        for await (const _ of stream);
        return undefined;
      } catch (e) {
        return e;
      }
    },
  ],
  [
    'a client-streamed stream',
    async (client, opts) => {
      const stream: StreamCall = client.openStream('hold', EMPTY_BYTES, opts);
      await stream.write(new Uint8Array([1]));
      return stream.result.then(
        () => undefined,
        (e: unknown) => e,
      );
    },
  ],
];

describe.each(carriers)('%s whose signal aborts in the turn its deadline passes', (_, start) => {
  it('reads Timeout when the deadline came first; the handler is stopped', async () => {
    const { clock, client, nextRequest } = await setUp();
    const ac = new AbortController();
    const seen = nextRequest();
    const outcome = start(client, { timeoutMs: 1_000, signal: ac.signal });
    const req = await seen;
    clock.advance(1_200);
    ac.abort(new Error('too late'));
    const err = (await within(outcome, 5000, 'the call to end')) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.Timeout);
    // The client's cancel (sent at its own timeout) stops the handler; the server's clock never reached its deadline.
    await within(new Promise((r) => (req.signal.aborted ? r(0) : req.signal.addEventListener('abort', r))), 5000, "the handler's signal");
    expect((req.signal.reason as RpcError).code).toBe(ErrorCode.Cancelled);
  });

  it("reads Cancelled, with the signal's reason as its cause, when the signal came first; the handler is stopped", async () => {
    const { clock, client, nextRequest } = await setUp();
    const ac = new AbortController();
    const seen = nextRequest();
    const outcome = start(client, { timeoutMs: 1_000, signal: ac.signal });
    const req = await seen;
    const why = new Error('the user left');
    ac.abort(why);
    clock.advance(1_200);
    const err = (await within(outcome, 5000, 'the call to end')) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.Cancelled);
    expect(err.cause).toBe(why);
    await within(new Promise((r) => (req.signal.aborted ? r(0) : req.signal.addEventListener('abort', r))), 5000, "the handler's signal");
    expect((req.signal.reason as RpcError).code).toBe(ErrorCode.Cancelled);
  });
});

describe("a pool's call waiting for a connection (nobody listens yet), ended by its signal", () => {
  const pools: [string, (address: string) => ConnPool | FailoverPool][] = [
    ['ConnPool', (address) => new ConnPool({ transport, address, backoff: { initialMs: 5, maxMs: 20 }, connectBudgetMs: 60_000, logger: silentLogger })],
    ['FailoverPool', (address) => new FailoverPool({ transport, servers: [address], logger: silentLogger, pool: { backoff: { initialMs: 5, maxMs: 20 }, connectBudgetMs: 60_000, logger: silentLogger } })],
  ];
  it.each(pools)("%s: reads Cancelled with the signal's reason as its cause, and never runs on the server that comes", async (_, make) => {
    const port = await freePort();
    const pool = make(`127.0.0.1:${port}`);
    cleanup.push(() => pool.close());
    const ac = new AbortController();
    const call = pool.call('count', EMPTY_BYTES, { signal: ac.signal, timeoutMs: 60_000 }).catch((e: unknown) => e);
    await waitFor(() => (pool instanceof ConnPool ? pool.state === 'backoff' : pool.stats()[0]?.state === 'backoff') || undefined, { what: 'the first connect to fail' });
    const why = new Error('the user left');
    ac.abort(why);
    const err = (await within(call, 5_000, 'the waiting call')) as RpcError;
    expect(err.code).toBe(ErrorCode.Cancelled);
    expect(err.cause).toBe(why);
    let ran = 0;
    const s = await startServer({ count: () => u32(++ran) }, {}, `127.0.0.1:${port}`);
    cleanup.push(() => s.server.close());
    await within(pool.call('count'), 10_000, 'the call after');
    expect(ran).toBe(1);
  });
});
