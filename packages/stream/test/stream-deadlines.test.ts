import net from 'node:net';
import { EMPTY_BYTES, ErrorCode, RpcError } from '@skein/core';
import { ManualClock, deferred, waitFor, within } from '@skein/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientStream, type ServerRequest, type StreamCall } from '../src/index.js';
import { readU32, startServer, transport, u32 } from './harness.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** Reads a stream to its end; resolves with the items' u32s and how it ended. */
async function readAll(s: StreamCall): Promise<{ items: number[]; err: unknown }> {
  const items: number[] = [];
  try {
    for await (const item of s) items.push(readU32(item.msg));
    return { items, err: undefined };
  } catch (err) {
    return { items, err };
  }
}

describe('a stream\'s deadline on the client', () => {
  it('ends the stream with Timeout when the server does not answer in time, and sends a cancel the handler sees', async () => {
    // The server's clock stands still: its own deadline never comes, as on a hung or careless server.
    const clock = new ManualClock();
    const seen = deferred<ServerRequest>();
    const s = await startServer(
      {
        feed: (req) => {
          seen.resolve(req);
          void req.stream!.write(u32(1));
          return new Promise(() => {}); // ignores its signal, never answers
        },
      },
      { clock, closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect({ tickMs: 50 });
    cleanup.push(() => client.destroy());
    const stream = client.openStream('feed', EMPTY_BYTES, { timeoutMs: 200 });
    const { items, err } = await within(readAll(stream), 5000, 'the stream to end');
    expect(items).toEqual([1]);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.Timeout);
    await expect(stream.result).rejects.toMatchObject({ code: ErrorCode.Timeout });
    const req = await seen.promise;
    await waitFor(() => req.signal.aborted, { what: 'the cancel to reach the server', timeoutMs: 5000 });
    expect((req.signal.reason as RpcError).code).toBe(ErrorCode.Cancelled);
    // The connection goes on: another stream opens and is answered.
    const next = client.openStream('feed', EMPTY_BYTES, { timeoutMs: 200 });
    expect((await within(readAll(next), 5000, 'the second stream')).items).toEqual([1]);
  });

  it('ends a stream waiting for the hello\'s answer from a server that never answers: Timeout, safe to retry', async () => {
    const sockets = new Set<net.Socket>();
    const hung = net.createServer((sock) => {
      sockets.add(sock);
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => (sockets.forEach((x) => x.destroy()), hung.close(r))));
    const { port } = hung.address() as net.AddressInfo;
    const client = await ClientStream.connect({ transport, address: `127.0.0.1:${port}`, tickMs: 50, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const stream = client.openStream('feed', EMPTY_BYTES, { timeoutMs: 200 });
    const { items, err } = await within(readAll(stream), 5000, 'the stream to end');
    expect(items).toEqual([]);
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    // Without a timeout of its own a stream has no deadline: it is still waiting.
    const patient = client.openStream('feed');
    const after = client.openStream('feed', EMPTY_BYTES, { timeoutMs: 100 });
    await within(readAll(after), 5000, 'the later stream to time out');
    expect(patient.isDone).toBe(false);
    patient.cancel();
  });
});
