import { ErrorCode, RpcError, parseAddress, type FrameConn, type Transport } from '@skein/core';
import { cleanups, deferred, memoryLogger, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { DATA_FLAG, HEAD_ACTION, OPEN_ACTION } from '../src/wire/extension-frames.js';
import { requestFrameSpec } from '../src/wire/frame-specs.js';
import { DEFAULT_LIMITS } from '../src/wire/limits.js';
import { HELLO_ACTION, PING_ACTION, RESPONSE_HEADER_LENGTH, readRequestHeader, writeResponseHeader, type RequestHeader, type ResponseFlag } from '../src/wire/protocol.js';
import { golden } from './golden.js';
import { transport } from './harness.js';

/**
 * What the client refuses on its own (ConnStreams, ClientHello): a server's stream item past the
 * credit the client gave, and a call head over what the server said it reads. Each against real
 * sockets: a hand-written server for the broken one, an RpcServer for the limit it announces.
 */

const cleanup = cleanups();

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A stream item as a server sends it (flag 3): `msg`, no blob. */
function serverItem(seq: number, msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(RESPONSE_HEADER_LENGTH + msg.length);
  writeResponseHeader(out, DATA_FLAG as ResponseFlag, msg.length, seq, 0);
  out.set(msg, RESPONSE_HEADER_LENGTH);
  return out;
}

/**
 * A server that answers the hello agreeing everything (golden.helloAnswerFull), then ignores the
 * credit its clients give: told the seq of the stream a client opened and of a call it made (which
 * it never answers), it sends what the test says on the stream. Records the requests it reads.
 */
async function creditIgnoringServer() {
  const seen: RequestHeader[] = [];
  const ready = deferred<{ conn: FrameConn; stream: number; call: number }>();
  const gone = deferred<void>();
  let openSeq = -1;
  const listener = await transport.listen(parseAddress('127.0.0.1:0'), requestFrameSpec(DEFAULT_LIMITS), (conn) => {
    conn.bind({
      frame: (bytes, start) => {
        const h = readRequestHeader(bytes.subarray(start));
        seen.push(h);
        if (h.action === HELLO_ACTION) return void conn.write(golden.helloAnswerFull);
        if (h.action === OPEN_ACTION) return void (openSeq = h.seq);
        // The stream's own request (its seq) came, and a call under another: both are on the wire.
        const call = seen.find((r) => r.action === -1 && r.seq !== openSeq);
        if (openSeq > 0 && call && seen.some((r) => r.action === -1 && r.seq === openSeq)) ready.resolve({ conn, stream: openSeq, call: call.seq });
      },
      drain: () => {},
      close: () => gone.resolve(),
    });
  });
  cleanup.push(() => listener.close());
  const { port } = listener.address as { port: number };
  return { address: `127.0.0.1:${port}`, seen, ready: ready.promise, gone: gone.promise };
}

/** Reads `stream` to its end: the items' msgs as text, and the error it ended with. */
async function readAll(stream: AsyncIterable<{ msg: Uint8Array }>): Promise<{ items: string[]; err: unknown }> {
  const items: string[] = [];
  try {
    for await (const item of stream) items.push(text.decode(item.msg));
  } catch (err) {
    return { items, err };
  }
  return { items, err: undefined };
}

describe('a server that sends stream items past the credit the client gave', () => {
  it('loses its connection: the stream and the calls on it fail with IO saying why, and the client kept only what was credited', async () => {
    const srv = await creditIgnoringServer();
    const logger = memoryLogger();
    // A 4 KiB window: items of 1000 bytes cost 1032 of credit each (a header's worth on top), so the
    // 4th overdraws it (an item may) and a 5th, with no credit given back (nothing is read), is one too many.
    const client = await ClientStream.connect({ transport, address: srv.address, streamWindowBytes: 4096, keepaliveMs: 0, logger });
    cleanup.push(() => client.destroy());
    const stream = client.openStream('feed');
    // A call on the same connection, which the server never answers.
    const call = client.call('hold').catch((err: unknown) => err);
    const { conn, stream: seq } = await within(srv.ready, 5000, 'the stream and the call to reach the server');
    for (let i = 1; i <= 5; i++) conn.write(serverItem(seq, utf8.encode(String(i).repeat(1000))));

    // The connection ends (the server sees it go), with the protocol error as the reason.
    await within(srv.gone, 5000, 'the client to close the connection');
    const closedWith = await within(client.closed(), 5000, 'the client stream to close');
    expect(client.state).toBe('closed');
    expect(closedWith?.message).toBe(`${srv.address} sent a stream item without credit`);

    // The stream reads the credited items, then fails with IO saying why; its result too.
    const { items, err } = await within(readAll(stream), 5000, 'the stream to end');
    expect(items.map((m) => m[0])).toEqual(['1', '2', '3', '4']);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.IO, message: `connection to ${srv.address} lost mid-stream: ${srv.address} sent a stream item without credit` });
    await expect(stream.result).rejects.toBe(err);

    // The call on the wire fails with IO, for the same reason.
    const callErr = await within(call, 5000, 'the unanswered call to fail');
    expect(callErr).toBeInstanceOf(RpcError);
    expect(callErr).toMatchObject({ code: ErrorCode.IO, message: `connection to ${srv.address} lost: ${srv.address} sent a stream item without credit` });
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toContain(`${srv.address} sent a stream item without credit`);
  });
});

describe('a call whose metadata is over the server\'s maxHead', () => {
  /**
   * An RpcServer (it announces a maxHead of 8 KiB in its hello's answer: DEFAULT_MAX_HEAD), on a
   * transport that records the requests its connections read, and the metadata its calls carry.
   */
  async function recordingServer() {
    const read: RequestHeader[] = [];
    const seeing: Transport = {
      name: transport.name,
      connect: (address, spec, opts) => transport.connect(address, spec, opts),
      listen: (address, spec, accept) =>
        transport.listen(address, spec, (conn) => {
          const bind = conn.bind.bind(conn);
          conn.bind = (handlers) =>
            bind({
              frame: (bytes, start, end) => {
                read.push(readRequestHeader(bytes.subarray(start)));
                return handlers.frame(bytes, start, end);
              },
              // Bound, not spread: the server's handlers may be methods of a class.
              drain: () => handlers.drain(),
              end: handlers.end && (() => handlers.end!()),
              close: (err) => handlers.close(err),
            });
          accept(conn);
        }),
    };
    const ran: string[] = [];
    const server = new RpcServer({ dispatch: createRouter({ echo: (req) => void ran.push(String(req.metadata.k)) }), closeWaitMs: 0 });
    const a = (await server.listen(seeing, '127.0.0.1:0')) as { host: string; port: number };
    cleanup.push(() => server.close());
    return { address: `${a.host}:${a.port}`, read, ran };
  }

  // 9000 bytes of value: a head of 4 (remaining_ms) + 1 + 1 (key) + 2 + 9000 bytes = 9008, over 8192.
  const big = { k: 'x'.repeat(9000) };
  // Unsent, and over this server's limit only: another server may take it (as one over its maxMessage).
  const tooBig = { code: ErrorCode.FrameTooLarge, message: "metadata of 9008 bytes encoded exceeds the server's limit of 8192", retry: 'safe' };

  it('is refused on the client with FrameTooLarge, before anything of it is sent, whether or not the hello was answered; the connection goes on', async () => {
    const srv = await recordingServer();
    const client = await ClientStream.connect({ transport, address: srv.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    // Right after the connect the hello's answer is not in: the call waits for it, then is refused.
    expect(client.hello.dialect).toBe('pending');
    const held = await client.call('echo', undefined, { metadata: big }).catch((e: unknown) => e);
    expect(held).toBeInstanceOf(RpcError);
    expect(held).toMatchObject(tooBig);
    // Now the answer is in (maxHead 8192): refused as it is made.
    expect(client.hello.agreed?.maxHead).toBe(8192);
    const direct = await client.call('echo', undefined, { metadata: big }).catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(RpcError);
    expect(direct).toMatchObject(tooBig);
    // A stream's opening is held to the same limit.
    const stream = client.openStream('echo', undefined, { metadata: big });
    await expect(stream.result).rejects.toMatchObject(tooBig);

    // The connection is still good: a call with small metadata runs. Answered, it shows the server
    // read everything sent before it: the hello and this call (its head, its request), nothing
    // else but pings (a held call asks whether the peer answers at all: Keepalive.askVerdict).
    await client.call('echo', undefined, { metadata: { k: 'small' } });
    expect(client.state).toBe('open');
    expect(srv.ran).toEqual(['small']);
    const calls = srv.read.filter((h) => h.action !== PING_ACTION);
    expect(calls.map((h) => h.action)).toEqual([HELLO_ACTION, HEAD_ACTION, -1]);
    expect(calls[1]!.msgLength).toBeLessThan(64);
  });
});
