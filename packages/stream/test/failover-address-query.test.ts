import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { ManualClock, cleanups, deferred, memoryLogger, muteServer, portOf, waitFor } from '@skein/test-utils';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { FailoverPool, RpcServer, StaticDiscovery, createRouter, followDiscovery, type FailoverPoolOptions } from '../src/index.js';

const cleanup = cleanups();
const ws = wsTransport();
const EMPTY = new Uint8Array();

// A token written into a ws:// address's query (`ws://h:1/skein?token=…`: a page's, which sets no
// headers on the upgrade) is part of a FailoverPool member's key, and the pool printed those keys
// in its own errors ("may have executed on …", "left the pool before the call was sent", "is not in
// the pool") and log lines (breaker, ejection, redirect, hook and discovery lines). Each names the
// member as it was made to be shown (`PoolServer.shown`): host, port and path, the query cut.
const TOKEN = 'SECRET';
const at = (port: number | string): string => `ws://127.0.0.1:${port}/skein?token=${TOKEN}`;
const shown = (port: number | string): string => `ws://127.0.0.1:${port}/skein?…`;

/** A ws server; action 1 never answers (until the test ends), 2 answers, 3 fails (Internal). */
async function wsServer(): Promise<number> {
  const hung = deferred();
  const routes = {
    1: () => hung.promise.then(() => undefined),
    2: () => undefined,
    3: () => {
      throw new Error('a failing handler');
    },
  };
  const server = new RpcServer({ dispatch: createRouter(routes), logger: silentLogger });
  const port = portOf(await server.listen(ws, '127.0.0.1:0'));
  cleanup.push(() => server.close());
  cleanup.push(() => hung.resolve());
  return port;
}

const failure = (p: Promise<unknown>): Promise<Error> => p.then(() => expect.unreachable('the call succeeded'), (e: unknown) => e as Error);

/** Everything `logger` said and `errors` read, as one text. */
const said = (logger: { lines: unknown[] }, errors: readonly Error[] = []): string =>
  `${JSON.stringify(logger.lines, (_k, v: unknown) => (v instanceof Error ? v.message : v))} ${errors.map((e) => e.message).join(' ')}`;

const lineOf = (logger: ReturnType<typeof memoryLogger>, msg: string) => logger.lines.find((l) => l.msg === msg);

function pool(opts: Omit<FailoverPoolOptions, 'transport'>): FailoverPool {
  const p = new FailoverPool({ transport: ws, ...opts });
  cleanup.push(() => p.close());
  return p;
}

describe("a FailoverPool keeps a ws:// member's query out of what it prints", () => {
  it('in its calls\' final errors, its hook and callback lines, and its refusals of servers', async () => {
    const port = await wsServer();
    const logger = memoryLogger();
    let asked = 0;
    const p = pool({
      servers: [at(port)],
      logger,
      retries: 1,
      shouldFailover: () => {
        if (++asked === 1) throw new Error('a faulty hook');
        return 'next';
      },
    });
    const errors: Error[] = [];
    // Timed out, not idempotent: "may have executed on …", the hook having thrown.
    errors.push(await failure(p.call(1, EMPTY, { timeoutMs: 300 })));
    expect(errors[0]!.message).toContain(`may have executed on ${shown(port)}`);
    expect(lineOf(logger, 'shouldFailover threw; using the built-in rule')?.obj.address).toBe(shown(port));
    // The hook asks for another server: refused, "the call may have run on …".
    errors.push(await failure(p.call(1, EMPTY, { timeoutMs: 300 })));
    expect(errors[1]!.message).toContain(`may have run on ${shown(port)}`);
    // A callback that throws is logged with its member's name.
    p.send(2, EMPTY, {}, () => {
      throw new Error('a faulty callback');
    });
    const threw = await waitFor(() => logger.lines.find((l) => l.obj.action === 2), { what: "the callback's line" });
    expect(threw.obj.remote).toBe(shown(port));
    // A server named that is not in the pool: neither it nor the members show a token.
    const other = `ws://127.0.0.1:1/skein?token=OTHER`;
    errors.push(await new Promise<Error>((resolve) => p.sendTo(other, 2, EMPTY, {}, (err) => resolve(err as Error))));
    expect(errors[2]!.message).toBe(`server ${shown(1)} is not in the pool (${shown(port)})`);
    // Servers refused as they are given.
    for (const servers of [[at(port), at(port)], [{ address: at(port), weight: -1 }]]) {
      const e = (() => {
        try {
          new FailoverPool({ transport: ws, servers });
        } catch (err) {
          return err as Error;
        }
        return expect.unreachable('the servers were taken');
      })();
      expect(e.message).toContain(shown(port));
      errors.push(e);
    }
    // A call refused while the pool closes names the pool by its servers.
    await p.close();
    p.send(2, EMPTY, {}, () => {
      throw new Error('a faulty callback');
    });
    expect(logger.lines.at(-1)?.obj.remote).toBe(`failover pool of ${shown(port)}`);

    const text = said(logger, errors);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('OTHER');
    expect(p.servers().map((s) => s.address)).toEqual([at(port)]); // its key keeps the query
  });

  it('in the error of a call waiting on a server that left the pool', async () => {
    const mute = await muteServer();
    const address = `ws://${mute.address}/skein?token=${TOKEN}`;
    const p = pool({ servers: [address], logger: silentLogger });
    const waiting = new Promise<Error>((resolve) => p.sendTo(address, 2, EMPTY, { timeoutMs: 20_000 }, (err) => resolve(err as Error)));
    await mute.acceptedAtLeast(1); // its connect hangs on the upgrade: the call waits, unsent
    await p.remove(address);
    const err = await waiting;
    expect(RpcError.is(err, ErrorCode.Unreachable), String(err)).toBe(true);
    expect(err.message).toBe(`server ws://${mute.address}/skein?… left the pool before the call was sent`);
  });

  it('in its breaker, ejection and membership lines, and its hooks\' lines', async () => {
    const bad = await wsServer();
    const good = await wsServer();
    const logger = memoryLogger();
    const clock = new ManualClock();
    const p = pool({
      servers: [at(bad), at(good)],
      logger,
      clock,
      circuitBreaker: { minCalls: 1, failureRatio: 0.5, openMs: 1_000 },
      outlierEjection: { intervalMs: 1_000, minCalls: 1, minServers: 2, ejectMs: 1_000, maxEjectedShare: 0.5 },
      onServerHealth: () => {
        throw new Error('a faulty health hook');
      },
      onMembershipChange: () => {
        throw new Error('a faulty membership hook');
      },
    });
    const sent = (to: string, action: number): Promise<unknown> => new Promise((resolve) => p.sendTo(to, action, EMPTY, { timeoutMs: 10_000 }, resolve));
    await sent(at(good), 2);
    await sent(at(bad), 3);
    expect(lineOf(logger, 'circuit breaker opened: no calls to this server for a while')?.obj.address).toBe(shown(bad));
    expect((lineOf(logger, 'onServerHealth threw')?.obj.event as { address: string }).address).toBe(shown(bad));
    clock.advance(1_000); // the comparison: the failing server is out
    expect(lineOf(logger, 'server ejected as an outlier')?.obj.address).toBe(shown(bad));
    clock.advance(1_000); // its ejection is over
    expect(lineOf(logger, 'ejected server back in rotation')?.obj.address).toBe(shown(bad));
    await p.remove(at(good));
    expect((lineOf(logger, 'onMembershipChange threw')?.obj.event as { address: string }).address).toBe(shown(good));

    expect(said(logger)).not.toContain(TOKEN);
  });

  it('in its redirect lines and refusals', async () => {
    const from = await wsServer();
    const to = await wsServer();
    const logger = memoryLogger();
    // From `from` (its key, the query kept, as the hook is told) to `to`, a server not in the pool; no further.
    const shouldFailover = (_e: unknown, a: { address: string }) => (a.address === at(from) ? { redirect: at(to) } : ('stop' as const));
    const p = pool({ servers: [at(from)], logger, shouldFailover });
    const ended = await failure(p.call(3, EMPTY, { idempotent: true, timeoutMs: 10_000 }));
    expect(ended.message).toContain('after 2 attempts');
    const line = lineOf(logger, 'redirected to a server not in the pool: adding it while it is used');
    expect(line?.obj).toMatchObject({ address: shown(to), from: shown(from) });
    const refusing = pool({ servers: [at(from)], logger, shouldFailover, redirectTargets: { max: 0 } });
    const err = await failure(refusing.call(3, EMPTY, { idempotent: true, timeoutMs: 10_000 }));
    expect(err.message).toContain(`redirect to ${shown(to)}, a server not in the pool, refused`);

    expect(said(logger, [ended, err])).not.toContain(TOKEN);
  });

  it("in a picker function's choice of a server not in the pool", async () => {
    const port = await wsServer();
    const p = pool({ servers: [at(port)], logger: silentLogger, retries: 0, strategy: () => at(1) });
    const err = await failure(p.call(2, EMPTY, { timeoutMs: 10_000 }));
    expect(RpcError.is(err, ErrorCode.InvalidArgument), String(err)).toBe(true);
    expect(err.message).toBe(`picker function chose ${shown(1)}, which is not in the pool`);
  });

  // A ws:// member of a pool over TCP: the transport refuses its address, named without the query.
  it("in the transport's refusal of a member written for another transport", async () => {
    const p = new FailoverPool({ transport: tcpTransport(nodeRuntime), servers: [at(1)], logger: silentLogger, retries: 0 });
    cleanup.push(() => p.close());
    const err = await failure(p.call(2, EMPTY, { timeoutMs: 10_000 }));
    expect(RpcError.is(err, ErrorCode.InvalidArgument), String(err)).toBe(true);
    expect(err.message).toContain(`tcpTransport cannot use ${shown(1)}: ws:// and wss:// addresses are for wsTransport`);
    expect(err.message).not.toContain(TOKEN);
  });

  it("in a discovery follower's lines on the last server", async () => {
    const port = await wsServer();
    const logger = memoryLogger();
    const discovery = new StaticDiscovery([{ type: 't', id: 'a', address: at(port) }]);
    const p = pool({ servers: [], logger: silentLogger });
    const watch = followDiscovery(p, discovery, { type: 't', logger, lastLeaveGraceMs: 50 });
    cleanup.push(() => watch.close());
    await watch.ready();
    await p.call(2, EMPTY, { timeoutMs: 10_000 }); // a connection up: it still answers past its grace
    discovery.set([]);
    expect(lineOf(logger, 'the last server left discovery: keeping it until another joins or the grace is over')?.obj.address).toBe(shown(port));
    const outlasted = await waitFor(() => logger.lines.find((l) => l.msg?.startsWith('the grace is over')), { what: 'the grace to end' });
    expect(outlasted.obj.address).toBe(shown(port));

    expect(said(logger)).not.toContain(TOKEN);
  });
});
