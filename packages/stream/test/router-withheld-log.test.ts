import { ErrorCode, RpcError } from '@skein/core';
import { freePort, memoryLogger, portOf, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, ConnPool, RpcServer, createRouter, type ActionHandler } from '../src/index.js';
import { transport } from './harness.js';

// Client → A (a createRouter), whose handler calls B and passes on B's error. Without
// exposeInternalErrors A's caller gets `rpc_unreachable` alone: B's words (why, which address)
// must then be in A's log, or nobody ever sees them. As @skein/api's service dispatch does.

const cleanup = cleanups();

/** B: nothing listens at its address. */
async function deadDownstream() {
  const address = `127.0.0.1:${await freePort()}`;
  const pool = new ConnPool({ transport, address, connectBudgetMs: 100 });
  cleanup.push(() => pool.destroy());
  return { pool, address };
}

async function serveA(table: Record<string, ActionHandler>) {
  const logger = memoryLogger();
  const server = new RpcServer({ dispatch: createRouter(table, { logger }) });
  const a = await server.listen(transport, '127.0.0.1:0');
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}` });
  cleanup.push(() => server.close(), () => stream.destroy());
  return { stream, logger };
}

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as RpcError);
const loud = (logger: ReturnType<typeof memoryLogger>) => logger.lines.filter((l) => l.level === 'warn' || l.level === 'error');

describe("createRouter: a handler's RpcError whose words stay on the server is logged there", () => {
  it("B down: the caller gets the bare code, A logs B's words naming the action, once", async () => {
    const b = await deadDownstream();
    const { stream, logger } = await serveA({ 'Front.op': async () => (await b.pool.call('Down.work')).msg });
    const err = await failure(stream.call('Front.op'));
    expect(err).toBeInstanceOf(RpcError);
    expect(err!.code).toBe(ErrorCode.Unreachable);
    expect(err!.message).not.toContain(b.address);
    const lines = loud(logger);
    expect(lines, JSON.stringify(logger.lines)).toHaveLength(1);
    expect(lines[0]!.level).toBe('warn');
    expect(lines[0]!.msg).toBe('Front.op failed with Unreachable');
    expect(String((lines[0]!.obj.err as Error).message)).toContain(b.address);
  });

  it("a streaming action's passed-on error is logged the same way", async () => {
    const b = await deadDownstream();
    const { stream, logger } = await serveA({
      'Front.feed': async (req) => {
        await req.stream!.write(new Uint8Array([1]));
        return (await b.pool.call('Down.work')).msg;
      },
    });
    const call = stream.openStream('Front.feed');
    const items: unknown[] = [];
    const err = await failure((async () => { for await (const item of call) items.push(item); })());
    expect(items).toHaveLength(1);
    expect(err).toMatchObject({ code: ErrorCode.Unreachable });
    const lines = loud(logger);
    expect(lines, JSON.stringify(logger.lines)).toHaveLength(1);
    expect(lines[0]!.msg).toBe('Front.feed failed with Unreachable');
    expect(String((lines[0]!.obj.err as Error).message)).toContain(b.address);
  });

  it("a handler's own InvalidArgument or PermissionDenied, whose words go to the caller, is not logged; its Unauthenticated (about its own calls) is", async () => {
    const { stream, logger } = await serveA({
      bad: () => { throw new RpcError(ErrorCode.InvalidArgument, 'bad sku'); },
      denied: () => { throw new RpcError(ErrorCode.PermissionDenied, 'not yours'); },
      expired: async () => { throw new RpcError(ErrorCode.Unauthenticated, 'vault.internal:8200 is sealed'); },
    });
    expect(await failure(stream.call('bad'))).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('bad sku') });
    expect(await failure(stream.call('denied'))).toMatchObject({ code: ErrorCode.PermissionDenied });
    expect(loud(logger)).toEqual([]);
    expect(await failure(stream.call('expired'))).toMatchObject({ code: ErrorCode.Unauthenticated, message: 'expired: rpc_unauthenticated' });
    expect(loud(logger).map((l) => l.msg)).toEqual(['expired failed with Unauthenticated']);
  });

  it('a call already answered (cancelled by its caller) is not logged when its handler then fails', async () => {
    let fail!: () => void;
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const { stream, logger } = await serveA({
      slow: (req) =>
        new Promise((_, reject) => {
          fail = () => reject(new RpcError(ErrorCode.Unreachable, 'stream to 10.1.2.3:7000 is closed'));
          req.signal.addEventListener('abort', () => fail());
          started();
        }),
    });
    const ac = new AbortController();
    const call = failure(stream.call('slow', undefined, { signal: ac.signal }));
    await running;
    ac.abort();
    expect(await call).toMatchObject({ code: ErrorCode.Cancelled });
    // One round trip after the cancel: the server has read it and the handler has failed.
    await stream.call('bad-action').catch(() => undefined);
    expect(loud(logger)).toEqual([]);
  });
});
