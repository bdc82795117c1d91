import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger, type RpcError } from '@skein/core';
import { abortListeners, deferred, longLivedSignal, portOf, toldListeners, waitFor, cleanups } from '@skein/test-utils';
import { ClientStream, RpcServer, type Caller } from '@skein/stream';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, serverStream, service, type CallContext, type Client } from '../src/index.js';
import { transport } from './harness.js';

/**
 * Calls a handler makes on its own call's behalf (`{ ctx }`, with or without a signal of their
 * own): however each ends, nothing of it stays on the handler's `ctx` (its signal, or the
 * listeners it tells without one, through which such calls link) nor on the call's signal, and
 * the inner call ends as the outer one's cancel or its own signal says.
 */

const cleanup = cleanups();

const codec = msgpackCodec;
const Echo = service('Echo', { ping: method<number, number>(), hang: method<number, number>(), count: serverStream<number, number>() });
const Probe = service('Probe', { run: method<string, string>() });

async function connect(server: RpcServer): Promise<ClientStream> {
  cleanup.push(() => server.close());
  const a = await server.listen(transport, '127.0.0.1:0');
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, logger: silentLogger });
  cleanup.push(() => stream.destroy());
  await stream.ping(); // the hello is answered: the server hears a cancel from here on
  return stream;
}

async function echoClient(): Promise<Client<typeof Echo>> {
  const dispatch = createServiceDispatch({
    codec,
    logger: silentLogger,
    services: [
      implement(Echo, {
        ping: (n: number) => n,
        hang: () => new Promise<number>(() => {}),
        async *count(n: number) {
          for (let i = 0; i < n; i++) yield i;
        },
      }),
    ],
  });
  return createClient(Echo, await connect(new RpcServer({ dispatch, logger: silentLogger })), { codec, logger: silentLogger });
}

/** What a call ended with: its value, or its error's code name. */
const outcome = (p: Promise<unknown>): Promise<unknown> => p.then((v) => v, (e: RpcError) => e.codeName ?? String(e));

/** Serves Probe, whose `run(kind)` makes the inner call `kinds[kind]` and reports it with the listeners left. */
async function probe(kinds: Record<string, (ctx: CallContext) => Promise<unknown>>, shared: AbortSignal) {
  const run = async (kind: string, ctx: CallContext): Promise<string> => {
    const ended = await outcome(kinds[kind]!(ctx));
    return JSON.stringify({ ended, onCtx: abortListeners(ctx.signal) + toldListeners(ctx), onShared: abortListeners(shared) });
  };
  const dispatch = createServiceDispatch({ codec, logger: silentLogger, services: [implement(Probe, { run })] });
  return createClient(Probe, await connect(new RpcServer({ dispatch, logger: silentLogger })), { codec, logger: silentLogger });
}

describe('{ ctx } calls let go of both signals however they end', () => {
  it('unary and streaming, answered, refused, timed out, cancelled by the call\'s own signal', async () => {
    const echo = await echoClient();
    const shared = longLivedSignal();
    const aborted = AbortSignal.abort();
    const kinds: Record<string, (ctx: CallContext) => Promise<unknown>> = {
      plain: (ctx) => echo.ping(1, { ctx }),
      linked: (ctx) => echo.ping(2, { ctx, signal: shared }),
      timedOut: (ctx) => echo.hang(3, { ctx, signal: shared, timeoutMs: 1 }),
      alreadyAborted: (ctx) => echo.ping(4, { ctx, signal: aborted }),
      ownSignal: (ctx) => {
        const ac = new AbortController();
        const call = echo.hang(5, { ctx, signal: ac.signal });
        // Aborted once the call is on its way: the call is Cancelled, its link gone.
        setImmediate(() => ac.abort());
        return call;
      },
      streamRead: async (ctx) => {
        const items = await echo.count(3, { ctx, signal: shared });
        const got: number[] = [];
        for await (const i of items as AsyncIterable<number>) got.push(i);
        return got;
      },
      streamBroken: async (ctx) => {
        const items = await echo.count(3, { ctx, signal: shared });
        for await (const _ of items as AsyncIterable<number>) break;
        return 'broken';
      },
    };
    const client = await probe(kinds, shared);
    const expected: Record<string, unknown> = {
      plain: 1,
      linked: 2,
      timedOut: 'Timeout',
      alreadyAborted: 'Cancelled',
      ownSignal: 'Cancelled',
      streamRead: [0, 1, 2],
      streamBroken: 'broken',
    };
    for (const kind of Object.keys(kinds)) {
      // A broken stream's cancel is on its way when the loop ends: its result settles a turn later.
      const report = JSON.parse(await client.run(kind)) as { ended: unknown; onCtx: number; onShared: number };
      expect({ kind, ended: report.ended }).toEqual({ kind, ended: expected[kind] });
      if (kind !== 'streamBroken') expect({ kind, onCtx: report.onCtx, onShared: report.onShared }).toEqual({ kind, onCtx: 0, onShared: 0 });
    }
    await waitFor(() => abortListeners(shared) === 0, { what: 'the broken stream to let go of the shared signal' });
  });

  it('a call or stream made once the outer call was cancelled is Cancelled at once and listens to neither signal', async () => {
    const echo = await echoClient();
    const shared = longLivedSignal();
    const reports = deferred<{ plain: unknown; linked: unknown; stream: unknown; onCtx: number; onShared: number }>();
    const entered = deferred<CallContext>();
    const Outer = service('Outer', { wait: method<void, void>() });
    const dispatch = createServiceDispatch({
      codec,
      logger: silentLogger,
      services: [
        implement(Outer, {
          wait: async (_: void, ctx: CallContext) => {
            entered.resolve(ctx);
            await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
            const plain = await outcome(echo.ping(1, { ctx }));
            const linked = await outcome(echo.ping(2, { ctx, signal: shared }));
            // A stream too (regression: its abort source, aborted already, ended it while it was
            // being hooked, before the unhook of its own signal was kept: one listener left on it).
            const stream = await outcome((async () => {
              for await (const _ of (await echo.count(3, { ctx, signal: shared })) as AsyncIterable<number>);
            })());
            reports.resolve({ plain, linked, stream, onCtx: abortListeners(ctx.signal) + toldListeners(ctx), onShared: abortListeners(shared) });
          },
        }),
      ],
    });
    const outer = createClient(Outer, await connect(new RpcServer({ dispatch, logger: silentLogger })), { codec, logger: silentLogger });
    const ac = new AbortController();
    const call = outcome(outer.wait(undefined, { signal: ac.signal }));
    await entered.promise;
    ac.abort();
    expect(await call).toBe('Cancelled');
    expect(await reports.promise).toEqual({ plain: 'Cancelled', linked: 'Cancelled', stream: 'Cancelled', onCtx: 0, onShared: 0 });
  });

  it('the outer call cancelled mid-call cancels the inner one, which leaves the shared signal', async () => {
    const echo = await echoClient();
    const shared = longLivedSignal();
    const inner = deferred<unknown>();
    const started = deferred<CallContext>();
    const Outer = service('Outer', { relay: method<void, void>() });
    const dispatch = createServiceDispatch({
      codec,
      logger: silentLogger,
      services: [
        implement(Outer, {
          relay: async (_: void, ctx: CallContext) => {
            const call = echo.hang(1, { ctx, signal: shared });
            started.resolve(ctx);
            inner.resolve(await outcome(call));
          },
        }),
      ],
    });
    const outer = createClient(Outer, await connect(new RpcServer({ dispatch, logger: silentLogger })), { codec, logger: silentLogger });
    const ac = new AbortController();
    const call = outcome(outer.relay(undefined, { signal: ac.signal }));
    const ctx = await started.promise;
    expect(toldListeners(ctx)).toBe(1);
    ac.abort();
    expect(await call).toBe('Cancelled');
    expect(await inner.promise).toBe('Cancelled');
    expect(abortListeners(shared)).toBe(0);
    expect(toldListeners(ctx)).toBe(0);
  });
});

describe('a Caller that throws', () => {
  // A Caller is any object with send(): an application's own carrier may throw rather than notify.
  const throwing: Caller = {
    send() {
      throw new Error('carrier down');
    },
  };
  // An argument schema that answers later, as one that looks something up does.
  const later: StandardSchemaV1<unknown, number> = {
    '~standard': { version: 1, vendor: 'test', validate: (value) => Promise.resolve({ value: value as number }) },
  };
  const Checked = service('Checked', { ping: method({ input: later }) });

  it('rejects the call with its error and leaves its signal and its ctx, with a schema that answers at once or later', async () => {
    const shared = longLivedSignal();
    // A ctx as the call reads it: what is left of its deadline, and its abort, told without a signal.
    let hooked = 0;
    const ctx = { aborted: false, onAbort: () => (hooked++, () => void hooked--), remainingMs: () => undefined } as unknown as CallContext;
    for (const def of [Echo, Checked]) {
      const client = createClient(def as typeof Echo, throwing, { codec, logger: silentLogger });
      await expect(client.ping(1, { ctx, signal: shared })).rejects.toThrow('carrier down');
      expect(abortListeners(shared)).toBe(0);
      expect(hooked).toBe(0);
    }
  });
});
