import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { deferred, settleAll, waitFor } from '@skein/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { callLog, createClient, implement, method, overloadShedding, service, type CallInfo, type Filter } from '../src/index.js';
import { memoryLogger, serve } from './harness.js';

const Svc = service('Svc', {
  echo: method<number, number>(),
  busy: method<number, number>(),
});

let executed = 0;
const impl = implement(Svc, {
  echo: async (n) => {
    executed++;
    await new Promise((r) => setTimeout(r, n % 5)); // overlap the calls
    return n;
  },
  busy: (ms) => {
    executed++;
    const end = performance.now() + ms;
    while (performance.now() < end); // a handler that blocks the event loop
    return ms;
  },
});

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  executed = 0;
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(serverFilters: Filter[] = [], clientFilters: Filter[] = []) {
  const s = await serve({ codec: msgpackCodec, services: [impl], filters: serverFilters });
  cleanup.push(() => s.close());
  return { ...s, svc: createClient(Svc, s.stream, { codec: msgpackCodec, filters: clientFilters }) };
}

/** What a tracer's `after` saw of one call: its own annotation and its outcome. */
interface Seen {
  annotated: unknown;
  arg: unknown;
  value: unknown;
}

/**
 * A filter that records the order hooks ran in, and what each `after` found in its info. It
 * asserts nothing itself: filters.ts catches what an `after` throws, so the test checks `seen`.
 */
function tracer(name: string, log: string[], seen: Seen[] = []): Filter {
  return {
    name,
    before(info) {
      log.push(`${name}.before`);
      info.meta[name] = info.arg;
    },
    after(info, outcome) {
      log.push(`${name}.after`);
      seen.push({ annotated: info.meta[name], arg: info.arg, value: outcome.ok ? outcome.value : outcome.error });
    },
  };
}

describe('filters', () => {
  it('run before in order and after in reverse, on both sides, with per-call info', async () => {
    const server: string[] = [];
    const client: string[] = [];
    const seenBy: Record<string, Seen[]> = { s1: [], s2: [], c1: [], c2: [] };
    const { svc } = await setup(
      [tracer('s1', server, seenBy.s1), tracer('s2', server, seenBy.s2)],
      [tracer('c1', client, seenBy.c1), tracer('c2', client, seenBy.c2)],
    );
    await svc.echo(1);
    expect(client).toEqual(['c1.before', 'c2.before', 'c2.after', 'c1.after']);
    expect(server).toEqual(['s1.before', 's2.before', 's2.after', 's1.after']);
    // Concurrent calls never share an info object (pomelo's filters did): each `after` finds its
    // own call's annotation next to its own call's outcome (the handler's answer, never from info).
    const args = Array.from({ length: 200 }, (_, i) => i + 2);
    const results = await Promise.all(args.map((i) => svc.echo(i)));
    expect(results).toEqual(args);
    for (const seen of Object.values(seenBy)) {
      expect(seen.map((s) => s.value).sort((a, b) => Number(a) - Number(b))).toEqual([1, ...args]);
      for (const s of seen) expect(s).toEqual({ annotated: s.value, arg: s.value, value: s.value });
    }
  });

  it('let a client filter reject a call before anything is sent', async () => {
    const deny: Filter = {
      before: async (info: CallInfo) => {
        await Promise.resolve();
        if (info.arg === 13) throw new RpcError(ErrorCode.Unauthenticated, 'no token');
      },
    };
    const { svc, stream } = await setup([], [deny]);
    await expect(svc.echo(13)).rejects.toMatchObject({ code: ErrorCode.Unauthenticated });
    expect(stream.inFlight).toBe(0);
    expect(executed).toBe(0);
    expect(await svc.echo(7)).toBe(7);
  });

  it("let a server filter refuse a call before the handler runs, and run only the completed filters' after", async () => {
    const log: string[] = [];
    const refuse: Filter = {
      before() {
        throw new RpcError(ErrorCode.Unauthenticated, 'who are you?');
      },
      after: () => void log.push('refuse.after'),
    };
    const { svc } = await setup([tracer('s1', log), refuse]);
    await expect(svc.echo(1)).rejects.toMatchObject({ code: ErrorCode.Unauthenticated, message: 'Svc.echo: who are you?' });
    expect(executed).toBe(0);
    expect(log).toEqual(['s1.before', 's1.after']);
  });

  it('wait for a before that returns any thenable (not a native Promise), and heed its refusal', async () => {
    const log: string[] = [];
    // What a query builder or a Bluebird promise is: awaitable, but not `instanceof Promise`.
    const thenable = (fail: boolean): PromiseLike<void> => ({
      then: (ok, refuse) =>
        Promise.resolve()
          .then(() => {
            if (fail) throw new RpcError(ErrorCode.PermissionDenied, 'not yours');
          })
          .then(ok, refuse),
    });
    const check: Filter = { before: (info) => thenable(info.arg === 13), after: () => void log.push('check.after') };
    const { svc } = await setup([check, tracer('s2', log)]);
    await expect(svc.echo(13)).rejects.toMatchObject({ code: ErrorCode.PermissionDenied, message: 'Svc.echo: not yours' });
    expect(executed).toBe(0);
    expect(log).toEqual([]);
    expect(await svc.echo(7)).toBe(7);
    expect(log).toEqual(['s2.before', 's2.after', 'check.after']);
  });

  it('start no handler for a call answered while a before awaited (cancelled, past its deadline)', async () => {
    const gate = deferred<void>();
    let entered = 0;
    const outcomes: unknown[] = [];
    const slow: Filter = {
      before: () => (entered++, gate.promise),
      after: (_info, outcome) => void outcomes.push(outcome.ok ? 'ok' : (outcome.error as RpcError).codeName),
    };
    const { svc, stream, server } = await setup([slow]);
    await stream.ping(); // the hello is answered: calls go with their heads (deadline, cancel)
    const ac = new AbortController();
    const timedOut = svc.echo(1, { timeoutMs: 300 }).catch((e: RpcError) => e.codeName);
    const cancelled = svc.echo(2, { signal: ac.signal }).catch((e: RpcError) => e.codeName);
    await waitFor(() => entered === 2, { what: 'both calls in the filter' });
    ac.abort();
    expect([await timedOut, await cancelled]).toEqual(['Timeout', 'Cancelled']);
    await waitFor(() => server.stats().inFlight === 0, { what: 'the server to drop both calls' });
    gate.resolve();
    await waitFor(() => outcomes.length === 2, { what: "both filters' after" });
    expect(executed).toBe(0);
    expect(outcomes.sort()).toEqual(['Cancelled', 'Timeout']);
  });

  it('callLog writes method, peer, duration and outcome at debug', async () => {
    const logger = memoryLogger();
    const { svc } = await setup([callLog(logger)]);
    await svc.echo(2);
    const line = logger.lines.find((l) => l.msg === 'rpc call');
    expect(line?.level).toBe('debug');
    expect(line?.obj).toMatchObject({ side: 'server', action: 'Svc.echo', outcome: 'ok', peer: expect.stringMatching(/^127\.0\.0\.1:/) });
    expect(typeof line?.obj.durationMs).toBe('number');
  });
});

describe('overload shedding', () => {
  it('refuses calls at once with Overloaded while a handler blocks the event loop', async () => {
    const shed = overloadShedding({ maxLagMs: 30 });
    cleanup.push(() => shed.stop());
    const { svc } = await setup([shed]);
    const { ok, errors } = await settleAll(Array.from({ length: 20 }, () => svc.busy(100)));
    // The first call blocks the loop for 100 ms; the ones read in that burst are refused unrun.
    expect(executed).toBeLessThan(20);
    expect(ok.length).toBe(executed);
    expect(errors.length).toBe(20 - executed);
    // Refused before the handler ran: sent bare, the one form a client reads as safe to retry elsewhere.
    for (const e of errors) expect(e).toMatchObject({ code: ErrorCode.Overloaded, retry: 'safe', message: 'Svc.busy: rpc_overloaded' });
    // Once the loop is free again, calls are served. Asked until one is, not once after a fixed
    // pause: on a loaded machine this process can be left unscheduled for longer than maxLagMs at
    // any moment, which reads as lag too, and a call that comes then is rightly refused.
    const served = await waitFor(
      () => svc.echo(3).catch((e: RpcError) => {
        if (e.code !== ErrorCode.Overloaded) throw e;
        return undefined;
      }),
      { what: 'a call served once the loop is free', timeoutMs: 20_000, intervalMs: 50 },
    );
    expect(served).toBe(3);
  });

  // A negative limit refused every call; NaN, or a period past what a timer holds (Node fires
  // it every 1 ms, its lateness then read as none), turned shedding off without a word.
  it.each([
    ['maxLagMs', -1],
    ['maxLagMs', Number.NaN],
    ['sampleMs', 0],
    ['sampleMs', Number.NaN],
    ['sampleMs', 2 ** 31],
  ] as const)('refuses %s %s with InvalidArgument naming it, as any configuration mistake', (name, value) => {
    expect(() => overloadShedding({ [name]: value }).stop()).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringContaining(`overloadShedding: ${name} must be`) }));
  });

  it('serves every call without the filter (the control)', async () => {
    const { svc } = await setup();
    const { ok } = await settleAll(Array.from({ length: 5 }, () => svc.busy(20)));
    expect(ok.length).toBe(5);
    expect(executed).toBe(5);
  });
});
