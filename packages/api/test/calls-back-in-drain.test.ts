import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { RpcServer } from '@skein/stream';
import { cleanups, deferred } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type CallContext } from '../src/index.js';
import { memoryLogger, servingClient } from './harness.js';

/*
 * A graceful shutdown lets the calls running at `close()` finish (within `closeWaitMs`). A handler
 * whose work needs the client (a missing piece it asks for, a push before its answer) calls it
 * back through `ctx.caller` with `{ ctx }`: from `close()` on that call was refused (Closed,
 * unsent), so such a handler failed in every shutdown or rolling restart, though the server
 * waited for it. It now goes, made for its running call; a call made for no running call (the
 * server's own, or the handler's without `{ ctx }`) is still refused.
 */

const cleanup = cleanups();
const codec = msgpackCodec;
const Store = service('Store', { put: method<{ key: string }, string>() });
const Client = service('Client', { piece: method<{ key: string }, string>() });

const drained = (ctx: { draining: AbortSignal }) =>
  new Promise<void>((r) => (ctx.draining.aborted ? r() : ctx.draining.addEventListener('abort', () => r(), { once: true })));

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

/**
 * A server whose `put` waits for the drain `close()` begins, then answers what `afterDrain` makes
 * of its context, and a client serving `Client.piece` (recording what it was asked) that calls
 * `put({ key: 'k' })` and waits until the handler runs.
 */
async function storeCallingBack(afterDrain: (key: string, ctx: CallContext) => Promise<string>) {
  const logger = memoryLogger();
  const running = deferred();
  const server = new RpcServer({
    logger,
    tickMs: 50,
    dispatch: createServiceDispatch({
      codec,
      services: [
        implement(Store, {
          put: async ({ key }, ctx) => {
            running.resolve();
            await drained(ctx);
            return afterDrain(key, ctx);
          },
        }),
      ],
    }),
  });
  const asked: string[] = [];
  const peer = await servingClient(
    server,
    createServiceDispatch({ codec, services: [implement(Client, { piece: ({ key }) => (asked.push(key), `${key}-piece`) })] }),
    cleanup,
  );
  const stored = createClient(Store, peer, { codec }).put({ key: 'k' });
  await running.promise;
  return { server, logger, asked, stored };
}

describe('ctx.caller while the server drains', () => {
  it("a handler running at close() calls the client back and answers; the server's own call meanwhile is refused", async () => {
    const { server, logger, asked, stored } = await storeCallingBack(async (key, ctx) => {
      const piece = await createClient(Client, ctx.caller!, { codec }).piece({ key }, { ctx });
      return `stored ${piece}`;
    });
    const closing = server.close();
    const own = await failure(createClient(Client, server.openConnections()[0]!.caller!, { codec }).piece({ key: 'own' }));
    expect(own).toBeInstanceOf(RpcError);
    expect(own).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    expect(await stored).toBe('stored k-piece');
    await closing;
    expect(asked).toEqual(['k']);
    expect(logger.lines.find((l) => l.msg?.startsWith('closed after'))?.obj).toMatchObject({ ended: 1, cut: 0 });
  });

  it('a call back without { ctx } during the drain is refused, Closed, unsent, and the handler still answers', async () => {
    const { server, asked, stored } = await storeCallingBack(async (key, ctx) => {
      const err = await failure(createClient(Client, ctx.caller!, { codec }).piece({ key }));
      return err instanceof RpcError ? `${err.code} ${err.retry}` : 'sent';
    });
    const closing = server.close();
    expect(await stored).toBe(`${ErrorCode.Closed} safe`);
    await closing;
    expect(asked).toEqual([]);
  });

  it("ctx.caller is the connection's one caller: the client made over it in one call is found again in the next", async () => {
    const clients: object[] = [];
    const server = new RpcServer({
      logger: memoryLogger(),
      dispatch: createServiceDispatch({
        codec,
        services: [implement(Store, { put: ({ key }, ctx) => (clients.push(createClient(Client, ctx.caller!, { codec })), key) })],
      }),
    });
    const peer = await servingClient(server, createServiceDispatch({ codec, services: [implement(Client, { piece: ({ key }) => key })] }), cleanup);
    const store = createClient(Store, peer, { codec });
    await store.put({ key: 'a' });
    await store.put({ key: 'b' });
    expect(clients).toHaveLength(2);
    expect(clients[1]).toBe(clients[0]);
  });
});
