import net from 'node:net';
import { EMPTY_BYTES, ErrorCode, RpcError } from '@skein/core';
import { ManualClock, deferred, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, type ServerRequest, type StreamCall } from '../src/index.js';
import { readU32, startServer, transport, u32 } from './harness.js';

const cleanup = cleanups();

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

  it('among many streams with deadlines, answered ones in any order leave the rest to end at theirs', async () => {
    const clock = new ManualClock();
    const gates = new Map<number, () => void>();
    const s = await startServer(
      {
        // Answers when the test opens its gate: the test picks the order streams leave the list in.
        quick: (req) => new Promise((resolve) => gates.set(readU32(req.msg), () => resolve(u32(2)))),
        hung: () => new Promise(() => {}),
      },
      { clock, closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect({ tickMs: 50 });
    cleanup.push(() => client.destroy());
    await client.ping();
    const streams = Array.from({ length: 60 }, (_, i) => {
      // The last opened (the list's head) is answered: the rest must still be found behind it.
      const hung = i % 5 === 2;
      return { hung, s: client.openStream(hung ? 'hung' : 'quick', u32(i), { timeoutMs: hung ? 400 : 60_000 }) };
    });
    const quick = streams.flatMap(({ hung }, i) => (hung ? [] : [i]));
    await waitFor(() => gates.size === quick.length, { what: 'every quick handler to run' });
    // Answered from both ends of the list and from its middle, neighbours one after the other.
    const order = [...quick.filter((i) => i % 2 === 0).reverse(), ...quick.filter((i) => i % 2 === 1)];
    for (const i of order) gates.get(i)!();
    const ends = await within(Promise.all(streams.map(({ s: st }) => st.result.then((r) => readU32(r.msg), (e: RpcError) => e.code))), 5000, 'every stream to end');
    expect(ends).toEqual(streams.map(({ hung }) => (hung ? ErrorCode.Timeout : 2)));
    expect(client.openStreams).toBe(0);
    // The list is whole after: a later stream still ends at its deadline.
    const later = client.openStream('hung', EMPTY_BYTES, { timeoutMs: 100 });
    await expect(within(later.result, 5000, 'the later stream')).rejects.toMatchObject({ code: ErrorCode.Timeout });
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
