import { ErrorCode } from '@skein/core';
import { cleanups, freePort } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, ConnPool, createRouter, FailoverPool, followDiscovery, RpcServer, StaticDiscovery, type FailoverPoolOptions } from '../src/index.js';
import { memoryLogger, startServer, transport } from './harness.js';

const cleanup = cleanups();

// A consumer under exactOptionalPropertyTypes hands on settings it may not have
// (`{ maxMs: cfg.backoffMaxMs }`), and the options types admit it (`?: T | undefined`): such a
// field is one left out. The nested options whose defaults were filled in by a spread
// (`{ ...DEFAULTS, ...given }`) put the undefined over the default, and their checks refused it
// (InvalidArgument "... must be ..., got undefined"); a FailoverPool's `pool.logger` given as
// undefined replaced the pool's own logger for its servers' pools.

const unset = undefined;

async function echoServer(opts: Parameters<typeof startServer>[1] = {}) {
  const s = await startServer({ echo: (req) => req.msg }, opts);
  cleanup.push(() => s.server.close());
  return s;
}

describe('an option given as undefined is one left out', () => {
  it('ClientStream.connect: limits, and the stream options', async () => {
    const { address } = await echoServer();
    const stream = await ClientStream.connect({
      transport,
      address,
      limits: { maxMessage: unset, maxBlob: unset, maxAction: unset },
      window: unset,
      timeoutMs: unset,
      keepaliveMs: unset,
      streamWindowBytes: unset,
      credentials: unset,
      serve: unset,
      serveWindow: unset,
      logger: unset,
      clock: unset,
    });
    cleanup.push(() => stream.destroy());
    const msg = new Uint8Array(2048).fill(1);
    expect((await stream.call('echo', msg, { timeoutMs: unset, signal: unset, metadata: unset, blob: unset })).msg).toEqual(msg);
  });

  it("RpcServer: a kind's limit given as undefined is the top-level one, not the built-in default", async () => {
    const { connect } = await echoServer({ limits: { maxMessage: 1024, maxBlob: unset }, clients: { limits: { maxMessage: unset, maxBlob: unset }, idleTimeoutMs: unset } });
    const client = await connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    expect((await client.call('echo', new Uint8Array(1024))).msg.length).toBe(1024);
    // The hello's answer named the clients' limits: the top-level 1024, not 16 MiB.
    await expect(client.call('echo', new Uint8Array(4096))).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge, message: /limit of 1024/ });
  });

  it('ConnPool: backoff and stream limits', async () => {
    const { address } = await echoServer();
    const pool = new ConnPool({
      transport,
      address,
      backoff: { initialMs: unset, maxMs: unset, multiplier: unset },
      stream: { limits: { maxMessage: unset }, timeoutMs: unset },
      maxConnections: unset,
      idleTimeoutMs: unset,
      logger: unset,
    });
    cleanup.push(() => pool.destroy());
    expect((await pool.call('echo', new Uint8Array([1, 2]))).msg).toEqual(new Uint8Array([1, 2]));
  });

  const failoverNested: [string, Partial<FailoverPoolOptions>][] = [
    ['retryBudget', { retryBudget: { ratio: unset, minRetriesPerSecond: unset } }],
    ['redirectTargets', { redirectTargets: { max: unset, idleTimeoutMs: unset } }],
    ['circuitBreaker', { circuitBreaker: { failureRatio: unset, minCalls: unset, windowMs: unset, openMs: unset, halfOpenCalls: unset } }],
    ['outlierEjection', { outlierEjection: { intervalMs: unset, minCalls: unset, minServers: unset, errorRateMargin: unset, latencyFactor: unset, minLatencyMs: unset, ejectMs: unset, maxEjectedShare: unset } }],
    ['pool.backoff', { pool: { backoff: { initialMs: unset, maxMs: unset, multiplier: unset } } }],
  ];
  it.each(failoverNested)('FailoverPool: %s', async (_name, opts) => {
    const { address } = await echoServer();
    const pool = new FailoverPool({ transport, servers: [{ address, weight: unset }], strategy: unset, retries: unset, ...opts });
    cleanup.push(() => pool.destroy());
    expect((await pool.call('echo', new Uint8Array([3]))).msg).toEqual(new Uint8Array([3]));
  });

  it("FailoverPool: pool.logger given as undefined keeps the pool's logger for its servers' pools", async () => {
    const logger = memoryLogger();
    const address = `127.0.0.1:${await freePort()}`;
    const pool = new FailoverPool({ transport, servers: [address], retries: 0, logger, pool: { logger: unset, connectBudgetMs: 200 } });
    cleanup.push(() => pool.destroy());
    await expect(pool.call('echo', new Uint8Array(), { timeoutMs: 5_000 })).rejects.toMatchObject({ code: ErrorCode.Unreachable });
    // Said by the server's ConnPool at its first failed connect, before the call gave up.
    expect(logger.lines.filter((l) => l.msg === 'cannot reach server: backing off').map((l) => l.obj.address)).toEqual([address]);
  });
  it('createRouter, StaticDiscovery, followDiscovery and ready()', async () => {
    const server = new RpcServer({ dispatch: createRouter({ echo: (req) => req.msg }, { logger: unset, exposeInternalErrors: unset, withheldLog: unset }) });
    const listened = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    const address = 'port' in listened ? `127.0.0.1:${listened.port}` : '';
    const discovery = new StaticDiscovery([{ type: 'echo', id: 'e1', address, weight: unset, meta: unset }], { logger: unset, clock: unset });
    const pool = new FailoverPool({ transport, servers: [] });
    cleanup.push(() => pool.destroy());
    const watch = followDiscovery(pool, discovery, { type: 'echo', logger: unset, lastLeaveGraceMs: unset });
    cleanup.push(() => watch.close());
    await watch.ready({ timeoutMs: unset, signal: unset });
    expect((await pool.call('echo', new Uint8Array([4]))).msg).toEqual(new Uint8Array([4]));
  });
  it("an authenticate hook's grant with expiresInMs undefined never expires", async () => {
    const { connect } = await echoServer({ authenticate: ({ text }) => (text === 'tok' ? { principal: text, expiresInMs: unset } : undefined), requireAuth: true });
    const client = await connect({ credentials: 'tok' });
    cleanup.push(() => client.destroy());
    expect((await client.call('echo', new Uint8Array([5]))).msg).toEqual(new Uint8Array([5]));
  });
});
