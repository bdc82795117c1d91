import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred, olderSkeinClient } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, type ActionHandler } from '../src/index.js';
import { startServer, transport } from './harness.js';

const cleanup = cleanups();

/*
 * A request over the server's limits for the connection's kind is refused at its header
 * (FrameTooLarge to its seq) and the connection closed: the server reads nothing after it. A call
 * the client sent behind it, or after the answer, was never read; with no word of that it failed
 * IO, "may have run" (retry 'idempotent'), and a pool could not send it elsewhere (trial: a
 * client's 2 KiB argument against `clients: { limits: { maxMessage: 1024 } }`). The server ends
 * such a connection with a goodbye when every call it read was answered (docs/protocol.md,
 * "Limits"), so those calls fail Closed, never ran (retry 'safe'). A Skein client that knows the
 * server's limits (hello kind 26) refuses such a call unsent: here the calls go right behind the
 * hello, before its answer, as a client's first calls do (the server reads the hello first, so
 * goodbyes are agreed).
 */
async function smallServer(table: Record<string, ActionHandler>) {
  const s = await startServer(table, { clients: { limits: { maxMessage: 1024 } } });
  cleanup.push(() => s.server.close());
  const client = await s.connect({ keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  return { ...s, client };
}

const outcome = (p: Promise<unknown>): Promise<RpcError | 'ok'> => p.then(() => 'ok' as const, (e: unknown) => e as RpcError);

describe('a request over the server limits, then calls the server never read', () => {
  it('a call sent right behind the oversized one fails Closed, never ran (retry safe), not IO "may have run"; the server ran it never', async () => {
    let runs = 0;
    const { client } = await smallServer({ ok: () => undefined, count: () => void runs++ });
    const big = outcome(client.call('count', new Uint8Array(2048)));
    const behind = outcome(client.call('count', new Uint8Array(8)));
    expect(await big).toMatchObject({ code: ErrorCode.FrameTooLarge, message: "message of 2048 bytes exceeds the server's limit of 1024" });
    const err = (await behind) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect({ code: err.code, retry: err.retry }).toEqual({ code: ErrorCode.Closed, retry: 'safe' });
    // The server was not closing: the words say only what it did.
    expect(err.message).toMatch(/ said goodbye and ended the connection before it read the call \(never ran\)/);
    expect(runs).toBe(0);
  });

  it('so does a call made once the FrameTooLarge answer is in', async () => {
    let runs = 0;
    const { client } = await smallServer({ ok: () => undefined, count: () => void runs++ });
    const next = await client.call('count', new Uint8Array(2048)).then(
      () => undefined,
      (e: RpcError) => (expect(e.code).toBe(ErrorCode.FrameTooLarge), outcome(client.call('count', new Uint8Array(8)))),
    );
    expect(next).toBeInstanceOf(RpcError);
    expect({ code: (next as RpcError).code, retry: (next as RpcError).retry }).toEqual({ code: ErrorCode.Closed, retry: 'safe' });
    await client.closed();
    expect(runs).toBe(0);
  });

  it('with a call still running when the oversized one is refused, no goodbye: the running call and those behind fail IO, may have run', async () => {
    const gate = deferred<void>();
    const { client } = await smallServer({ ok: () => undefined, slow: () => gate.promise.then(() => undefined), count: () => undefined });
    const running = outcome(client.call('slow'));
    const big = outcome(client.call('count', new Uint8Array(2048)));
    const behind = outcome(client.call('count', new Uint8Array(8)));
    expect(await big).toMatchObject({ code: ErrorCode.FrameTooLarge });
    for (const err of [(await running) as RpcError, (await behind) as RpcError]) {
      expect({ code: err.code, retry: err.retry }).toEqual({ code: ErrorCode.IO, retry: 'idempotent' });
    }
    gate.resolve();
  });

  it('with a stream whose handler still runs (no call out), no goodbye: the stream ends IO, may have run, never Closed safe', async () => {
    const started = deferred<void>();
    const gate = deferred<void>();
    const s = await startServer(
      {
        feed: async (req) => {
          await req.stream!.write(new Uint8Array(1));
          started.resolve();
          await gate.promise;
          return new Uint8Array(0);
        },
        count: () => undefined,
      },
      { clients: { limits: { maxMessage: 1024 } } },
    );
    cleanup.push(() => s.server.close());
    cleanup.push(() => gate.resolve());
    // An older Skein client (no kind 26) sends the oversized call after the hello's answer: only the stream runs there.
    const client = await ClientStream.connect({ transport: olderSkeinClient(transport, 26), address: s.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const stream = client.openStream('feed');
    const streamEnd = outcome(stream.result);
    await started.promise;
    expect(await outcome(client.call('count', new Uint8Array(2048)))).toMatchObject({ code: ErrorCode.FrameTooLarge });
    const err = (await streamEnd) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect({ code: err.code, retry: err.retry }).toEqual({ code: ErrorCode.IO, retry: 'idempotent' });
  });
});
