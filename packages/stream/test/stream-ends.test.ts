import { EMPTY_BYTES, ErrorCode, type RpcError } from '@skein/core';
import { ManualClock, deferred, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { ClientStreamOptions, ServerRequest } from '../src/index.js';
import { olderClientTransport, readU32, startServer, u32 } from './harness.js';
import { IN_FLIGHT_CAP_KIND } from '../src/wire/in-flight-cap.js';

const cleanup = cleanups();

async function serve(table: Parameters<typeof startServer>[0], serverOpts: Parameters<typeof startServer>[1] = {}, clientOpts: Partial<ClientStreamOptions> = {}) {
  const s = await startServer(table, { closeWaitMs: 0, ...serverOpts });
  cleanup.push(() => s.server.close());
  const client = await s.connect(clientOpts);
  cleanup.push(() => client.destroy());
  return { s, client };
}

describe('how a stream ends on the client', () => {
  it('a stream cancelled before the hello was answered does not hold a graceful close', async () => {
    const { client } = await serve({ feed: async (req) => void (await req.stream!.write(u32(1))) });
    // connect() resolves before the hello's answer: the stream waits in `opening`, and leaves it when cancelled.
    const ac = new AbortController();
    const s = client.openStream('feed', EMPTY_BYTES, { signal: ac.signal });
    expect(client.openStreams).toBe(1);
    ac.abort();
    await expect(s.result).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    expect(client.openStreams).toBe(0);
    const closing = client.close();
    await within(closing, 5000, 'the graceful close');
    expect(client.state).toBe('closed');
    expect(client.openStreams).toBe(0);
  });

  it('a stream lost with its connection before it was opened fails IO, safe to retry; an open one does not say so', async () => {
    const { s, client } = await serve({ feed: () => new Promise(() => {}) });
    const unopened = client.openStream('feed');
    expect(unopened.seq).toBe(0); // waiting for the hello's answer: nothing of it was sent
    client.destroy();
    await expect(unopened.result).rejects.toMatchObject({ code: ErrorCode.IO, retry: 'safe' });

    const other = await s.connect();
    cleanup.push(() => other.destroy());
    await other.ping(); // the hello's answer came before the pong
    const opened = other.openStream('feed');
    expect(opened.seq).not.toBe(0);
    other.destroy();
    const err = await opened.result.catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.IO });
    expect((err as RpcError).retry).toBe('idempotent'); // it may have run
  });

  it('a write after the server answered, or after end(), never says the stream did not run', async () => {
    // The server takes one item and answers: the stream ran. A write now fails, but a caller
    // reading its `retry` (`neverExecuted`) as the docs teach must not open the stream again
    // elsewhere: the stream's outcome is its result, and a write's error only says the item
    // went nowhere.
    const { client } = await serve({
      take: async (req) => {
        for await (const item of req.stream!) return item.msg;
        return u32(0);
      },
    });
    const s = client.openStream('take');
    await s.write(u32(1));
    expect(readU32((await s.result).msg)).toBe(1);
    const late = await s.write(u32(2)).catch((e: unknown) => e);
    expect(late).toMatchObject({ code: ErrorCode.Closed });
    expect((late as RpcError).neverExecuted).toBe(false);

    const ended = client.openStream('take');
    ended.end();
    const afterEnd = await ended.write(u32(3)).catch((e: unknown) => e);
    expect(afterEnd).toMatchObject({ code: ErrorCode.Closed });
    expect((afterEnd as RpcError).neverExecuted).toBe(false);
    await ended.result;
  });
});

describe('how a call held for the hello ends', () => {
  it('a call with metadata cancelled before the hello was answered does not hold a graceful close', async () => {
    const { client } = await serve({ echo: (req) => req.msg });
    // Metadata waits for the hello's answer (a v1 peer must never see a head): the call is held.
    const ac = new AbortController();
    const call = client.call('echo', u32(1), { metadata: { k: 'v' }, signal: ac.signal });
    ac.abort();
    await expect(call).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    await within(client.close(), 5000, 'the graceful close');
    expect(client.state).toBe('closed');
  });
});

describe('how a stream ends on the server', () => {
  it('a graceful close lets a stream on a connection paused at its cap finish: reading resumes', async () => {
    const slow = deferred();
    const entered = deferred();
    const s = await startServer(
      {
        slow: async () => {
          entered.resolve();
          await slow.promise;
        },
        quick: () => undefined,
        // Acks the first item, then sums the rest until the client ends.
        sum: async (req) => {
          let n = 0;
          for await (const item of req.stream!) {
            if (n++ === 0) await req.stream!.write(item.msg);
          }
          return u32(n);
        },
      },
      { maxInFlightPerConn: 1, closeWaitMs: 60_000 },
    );
    const serverClosed = s.server.close.bind(s.server);
    // An older Skein client (no hello kind 24): its window is not narrowed to the cap, so its second call is held there.
    const client = await s.connect({ transport: olderClientTransport(IN_FLIGHT_CAP_KIND) });
    cleanup.push(serverClosed, () => client.destroy()); // destroyed first: the close then ends at once
    const stream = client.openStream('sum');
    await stream.write(u32(7));
    const ack = await stream[Symbol.asyncIterator]().next();
    expect(ack.done).toBe(false);
    const first = client.call('slow');
    await entered.promise;
    const second = client.call('quick'); // past the cap: held, and the connection is not read
    await waitFor(() => s.server.stats().paused === 1, { what: 'the connection to pause at its cap' });
    const closing = s.server.close();
    await expect(second).rejects.toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    slow.resolve();
    await first;
    await stream.write(u32(8));
    stream.end();
    const result = await within(stream.result, 5000, 'the stream to be answered');
    expect(readU32(result.msg)).toBe(2);
    await client.close();
    await within(closing, 5000, 'the server to close');
  });
});

describe('a call timed out on the client', () => {
  it('that went with a head is cancelled on the server too: its signal fires, its slot frees', async () => {
    const seen = deferred<ServerRequest>();
    const clock = new ManualClock();
    const { s, client } = await serve({ hang: (req) => (seen.resolve(req), new Promise(() => {})) }, {}, { timeoutMs: 200, clock });
    await client.ping(); // the hello is answered: the call goes with its head
    // A signal (never aborted) gives the call a head; the default timeout is not sent as a deadline.
    const call = client.call('hang', EMPTY_BYTES, { signal: new AbortController().signal }).catch((e: unknown) => e);
    const req = await seen.promise;
    expect(req.deadline).toBeUndefined();
    clock.advance(1000);
    expect(await call).toMatchObject({ code: ErrorCode.Timeout });
    await waitFor(() => req.signal.aborted, { what: 'the cancel to reach the handler' });
    expect((req.signal.reason as RpcError).code).toBe(ErrorCode.Cancelled);
    expect(req.isAnswered).toBe(true);
    expect(s.server.stats().inFlight).toBe(0); // its slot is free
  });
});

describe('misuse of a stream', () => {
  it('a second write or read before the first settled fails typed (InvalidArgument), and the first goes on', async () => {
    const release = deferred();
    const { client } = await serve({
      sink: async (req) => {
        await release.promise;
        let n = 0;
        for await (const _ of req.stream!) n++;
        await req.stream!.write(u32(n));
        return u32(n);
      },
    });
    const s = client.openStream('sink');
    await s.write(EMPTY_BYTES, new Uint8Array(1 << 20)); // past the server's whole window: the next write waits
    const first = s.write(u32(1));
    await expect(s.write(u32(2))).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    const reader = s[Symbol.asyncIterator]();
    const read = reader.next();
    await expect(reader.next()).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    release.resolve();
    await first;
    s.end();
    expect(readU32((await read).value!.msg)).toBe(2);
    expect(readU32((await s.result).msg)).toBe(2);
  });
});
