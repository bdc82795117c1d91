import { ErrorCode, RpcError, invalidArgument } from '@skein/core';
import { memoryLogger, portOf, reap, startProcess, within, cleanups } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ClientStream, ConnPool, FailoverPool, RpcServer, createRouter, type Reply } from '../src/index.js';
import { transport } from './harness.js';

// What a pool hands a handler's raw `send` is a downstream's too; and a handler's own error that it hands a stream it opened (`cancel(reason)`) stays its own: the
// stream fails with it, but it is not marked `downstream` in place, so a later throw of the
// same error (a module's constant) still speaks to the caller. Real sockets: client → A → B.

const cleanup = cleanups();

async function listen(dispatch: ReturnType<typeof createRouter>): Promise<string> {
  const server = new RpcServer({ dispatch });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return `127.0.0.1:${portOf(a)}`;
}

async function connect(address: string): Promise<ClientStream> {
  const s = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
  cleanup.push(() => s.destroy());
  return s;
}

describe('StreamCall.cancel(reason): the reason is the canceller\'s own', () => {
  it("a handler's constant, cancelled with once, still reaches the caller with its words later", async () => {
    const b = await connect(await listen(createRouter({ 'B.sink': async (req) => {
      for await (const _ of req.stream!);
    } }, { logger: memoryLogger() })));
    const BAD_ITEM = invalidArgument('item 3 is negative');
    let streamFailedWith: unknown;
    const a = await connect(
      await listen(
        createRouter(
          {
            'A.op': async (req) => {
              if (req.msg.length > 0) throw BAD_ITEM;
              const s = b.openStream('B.sink');
              s.cancel(BAD_ITEM);
              streamFailedWith = await s.result.then(() => 'answered', (e: unknown) => e);
            },
          },
          { logger: memoryLogger() },
        ),
      ),
    );
    await a.call('A.op');
    expect(streamFailedWith).toBe(BAD_ITEM);
    const err = await a.call('A.op', new Uint8Array([1])).then(() => null, (e: unknown) => e as RpcError);
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'item 3 is negative' });
  });
});

describe("FailoverPool: a picker function's own error is marked on a copy, never in place", () => {
  it("a handler's constant its picker threw once still reaches the caller with its words later", async () => {
    const b = await listen(createRouter({ 'B.get': () => undefined }, { logger: memoryLogger() }));
    const UNKNOWN_TENANT = invalidArgument('unknown tenant');
    const pool = new FailoverPool({
      transport,
      servers: [b],
      strategy: (tenant) => (tenant === 't1' ? b : (() => { throw UNKNOWN_TENANT; })()),
    });
    cleanup.push(() => pool.close());
    let poolFailedWith: unknown;
    const a = await connect(
      await listen(
        createRouter(
          {
            'A.op': async (req) => {
              if (req.msg.length > 0) throw UNKNOWN_TENANT;
              poolFailedWith = await pool.call('B.get', new Uint8Array(0), { route: 't9' }).then(() => 'answered', (e: unknown) => e);
            },
          },
          { logger: memoryLogger() },
        ),
      ),
    );
    await a.call('A.op');
    expect(poolFailedWith).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'unknown tenant', downstream: true });
    const err = await a.call('A.op', new Uint8Array([1])).then(() => null, (e: unknown) => e as RpcError);
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'unknown tenant' });
  });
});

describe("ConnPool: a refusal of its credentials fails the calls waiting for a connection as a downstream's", () => {
  it("a handler passing B's PermissionDenied on from a raw send does not send B's words", async () => {
    const SECRET = 'key k-17 revoked in vault.internal';
    const server = new RpcServer({
      dispatch: createRouter({ 'B.get': () => undefined }, { logger: memoryLogger() }),
      logger: memoryLogger(),
      authenticate: () => {
        throw new RpcError(ErrorCode.PermissionDenied, SECRET);
      },
    });
    cleanup.push(() => server.close());
    const bound = await server.listen(transport, '127.0.0.1:0');
    const pool = new ConnPool({ transport, address: `127.0.0.1:${portOf(bound)}`, stream: { credentials: 'k-17' } });
    cleanup.push(() => pool.destroy());
    let handed: unknown;
    const a = await connect(
      await listen(
        createRouter(
          {
            'A.op': () =>
              new Promise<Reply>((resolve, reject) =>
                pool.send('B.get', new Uint8Array(0), {}, (err, reply) => (err ? reject((handed = err)) : resolve(reply!))),
              ),
          },
          { logger: memoryLogger() },
        ),
      ),
    );
    const err = await a.call('A.op').then(() => null, (e: unknown) => e as RpcError);
    expect(handed).toMatchObject({ code: ErrorCode.PermissionDenied, message: expect.stringContaining(SECRET) });
    expect(err).toMatchObject({ code: ErrorCode.PermissionDenied, message: `A.op: ${new RpcError(ErrorCode.PermissionDenied).wire}` });
  });
});

describe('WithheldLog: its ticker keeps no process alive', () => {
  it('a process whose server closed with failures still counted exits on its own', async () => {
    const proc = startProcess(process.execPath, [fileURLToPath(new URL('./fixtures/withheld-exit.mjs', import.meta.url))]);
    cleanup.push(() => reap(proc));
    // A safety net only: the ticker is due in 60 s, and a ticker that held the process would keep it 120 s.
    expect(await within(proc.exited, 30_000, 'the process to exit')).toBe(0);
    // One whole line, and the server's close says the two counted; the stray log's two, due at its
    // next tick, are never said: the ticker did not hold the process for them.
    expect(proc.lines).toEqual(['warn op failed with IO', 'failed rpc_io_err', 'failed rpc_io_err', 'failed rpc_io_err', 'warn 2 more failed op calls with IO: not logged one by one', 'closed', 'warn stray failed with IO']);
  }, 40_000);
});
