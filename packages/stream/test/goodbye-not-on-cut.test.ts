import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, startTcpRelay, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream } from '../src/index.js';
import { startServer, transport } from './harness.js';

const cleanup = cleanups();

const failure = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e as RpcError,
  );

/*
 * The goodbye (docs/protocol.md, "Goodbye") says that every call still unanswered never ran: a
 * client then fails them Closed, `retry: 'safe'`, and a pool sends them elsewhere, idempotent or
 * not. So it may go only where nothing read is running. A connection the close wait cuts has a
 * handler running: no goodbye, and its calls fail IO, "may have run", the one still on its way
 * (held by a relay) too, which the client cannot tell from the running one.
 */
describe('no goodbye where a handler still runs', () => {
  it('a call whose handler runs when the close wait cuts the connection, and one behind it on its way, fail IO (may have run), not Closed safe', async () => {
    let runs = 0;
    let answer: (() => void) | undefined;
    const s = await startServer(
      {
        hang: () =>
          new Promise<Uint8Array>((resolve) => {
            runs++;
            answer = () => resolve(new Uint8Array(0));
          }),
      },
      { tickMs: 50, closeWaitMs: 300 },
    );
    cleanup.push(() => answer?.());
    const relay = await startTcpRelay(s.address);
    cleanup.push(() => relay.close());
    const client = await ClientStream.connect({ transport, address: relay.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const running = failure(client.call('hang'));
    await waitFor(() => runs === 1, { what: 'the handler to run' });
    relay.holdClients();
    const onItsWay = failure(client.call('hang'));
    const closed = s.server.close();
    const [ran, unread] = await Promise.all([running, onItsWay]);
    for (const err of [ran, unread]) {
      expect(err).toBeInstanceOf(RpcError);
      expect(err.code).toBe(ErrorCode.IO);
      expect(err.retry).not.toBe('safe');
    }
    await closed;
    expect(runs).toBe(1);
  });

  it('so does a stream open when the close wait cuts it: IO, lost mid-stream, not Closed safe', async () => {
    let opened = 0;
    const s = await startServer(
      {
        // Reads until the client ends its side, which it never does here; the cut ends the read.
        feed: async (req) => {
          opened++;
          try {
            for await (const _ of req.stream!) void _;
          } catch {
            // The connection went: nobody reads an answer.
          }
          return new Uint8Array(0);
        },
      },
      { tickMs: 50, closeWaitMs: 300 },
    );
    const client = await s.connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const stream = client.openStream('feed');
    const ended = failure(stream.result);
    await waitFor(() => opened === 1, { what: 'the stream to open' });
    await s.server.close();
    const err = await ended;
    expect(err.code).toBe(ErrorCode.IO);
    expect(err.retry).not.toBe('safe');
  });
});
