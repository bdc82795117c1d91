import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred, memoryLogger } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type Caller, type ServerRequest } from '../src/index.js';
import { GOODBYE_FRAME } from '../src/wire/goodbye.js';
import { readU32, recordingTransport, transport as tcp, u32 } from './harness.js';
import { sendBy } from './reverse-harness.js';

/*
 * A closing server waits for the handlers running at `close()` (within `closeWaitMs`). One whose
 * work needs the other side (ask the client for a missing piece, push a result to a client
 * behind NAT before answering) calls back made for its request (`abortSource: req`, over the
 * connection's one caller, `req.conn.caller`): that call still goes and is answered in the
 * drain, and the server then ends the connection with its goodbye. Until then every reverse call
 * was refused from `close()` on (Closed, unsent), so such a handler failed in every graceful
 * shutdown. A call made for no request, for one that was answered, or for a request of another
 * connection, is still refused.
 */

const cleanup = cleanups();

const addressOf = (a: Awaited<ReturnType<RpcServer['listen']>>) => ('path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`);

const outcome = (p: Promise<unknown>) =>
  p.then(
    (v) => v,
    (e: unknown) => e,
  );

async function drainingServer() {
  const logger = memoryLogger();
  const running = deferred<{ caller: Caller; req: ServerRequest }>();
  const calledBack = deferred<unknown>();
  const { transport, writes } = recordingTransport();
  const server = new RpcServer({
    logger,
    closeWaitMs: 60_000,
    tickMs: 50,
    dispatch: createRouter({
      // Waits for the close to begin, then asks the client for the piece it answers with.
      ask: async (req) => {
        const caller = req.conn.caller!;
        running.resolve({ caller, req });
        await new Promise<void>((r) => req.conn.draining.addEventListener('abort', () => r(), { once: true }));
        const piece = await outcome(sendBy(caller, 'piece', req.msg, { abortSource: req }));
        calledBack.resolve(piece);
        if (piece instanceof Error) throw piece;
        return piece as Uint8Array;
      },
    }),
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  const pieces: number[] = [];
  const client = await ClientStream.connect({
    transport: tcp,
    address: addressOf(a),
    keepaliveMs: 0,
    serve: createRouter({ piece: (req) => (pieces.push(readU32(req.msg)), u32(readU32(req.msg) + 1)) }),
  });
  cleanup.push(() => client.destroy());
  return { server, client, logger, writes, running, calledBack, pieces };
}

describe('reverse calls of a running handler while the server drains', () => {
  it('go out and are answered: the handler answers its caller, and the server ends with its goodbye, nothing cut', async () => {
    const s = await drainingServer();
    const asked = s.client.call('ask', u32(41));
    const { caller, req } = await s.running.promise;
    const closing = s.server.close();
    expect(await s.calledBack.promise).toBeInstanceOf(Uint8Array);
    expect(readU32((await asked).msg)).toBe(42);
    expect(s.pieces).toEqual([41]);
    await closing;
    // The server's last frame on the connection is its goodbye: nothing was running or out when it ended.
    expect(Buffer.from(s.writes.at(-1)!)).toEqual(Buffer.from(GOODBYE_FRAME));
    expect(s.logger.lines.find((l) => l.msg?.startsWith('closed after'))?.obj).toMatchObject({ ended: 1, cut: 0 });
    // Its request answered and its connection gone, a call made for it is sent no more.
    const late = await outcome(sendBy(caller, 'piece', u32(1), { abortSource: req }));
    expect(late).toBeInstanceOf(RpcError);
  });

  it('refuses, unsent (Closed), a call made for no request, for an answered one, or for a request of another connection, while a handler runs', async () => {
    const logger = memoryLogger();
    const inHandler = deferred<ServerRequest>();
    const release = deferred();
    const answered = deferred<ServerRequest>();
    const server = new RpcServer({
      logger,
      tickMs: 50,
      dispatch: createRouter({
        quick: (req) => void answered.resolve(req),
        hold: async (req) => {
          inHandler.resolve(req);
          await release.promise;
          return u32(1);
        },
      }),
    });
    const a = await server.listen(tcp, '127.0.0.1:0');
    cleanup.push(() => server.close());
    const ran: number[] = [];
    const connect = async () => {
      const client = await ClientStream.connect({
        transport: tcp,
        address: addressOf(a),
        keepaliveMs: 0,
        serve: createRouter({ note: (req) => (ran.push(readU32(req.msg)), u32(0)) }),
      });
      cleanup.push(() => client.destroy());
      return client;
    };
    const client = await connect();
    await connect(); // another connection: a call over it made for the first's request is refused
    await client.call('quick');
    const stale = await answered.promise;
    const held = client.call('hold');
    const running = await inHandler.promise;
    const callerOn = (id: number) => server.openConnections().find((c) => c.id === id)!.caller!;
    const own = callerOn(running.conn.id);
    const otherId = server.openConnections().find((c) => c.id !== running.conn.id)!.id;
    const closing = server.close();
    const refusals = [
      await outcome(sendBy(own, 'note', u32(1))),
      await outcome(sendBy(own, 'note', u32(2), { abortSource: stale })),
      await outcome(sendBy(callerOn(otherId), 'note', u32(3), { abortSource: running })),
    ];
    for (const err of refusals) {
      expect(err).toBeInstanceOf(RpcError);
      expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
      expect((err as RpcError).message).toMatch(/is closing: reverse call not sent/);
    }
    release.resolve();
    expect(readU32((await held).msg)).toBe(1);
    await closing;
    expect(ran).toEqual([]);
  });
});
