import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, connectRazorClient, memoryLogger, olderSkeinServerOffer, rawConnect, waitFor, type RawSocket } from '@skein/test-utils';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientStream, type ClientStreamOptions, type Metadata, type Reply, type ServerRequest } from '../src/index.js';
import { ClientHello } from '../src/client/hello.js';
import { CANCEL_ACTION, OPEN_ACTION } from '../src/wire/extension-frames.js';
import { HELLO_ACTION, PING_ACTION, REQUEST_HEADER_LENGTH, readRequestHeader } from '../src/wire/protocol.js';
import { golden } from './golden.js';
import { bytes, olderClientTransport, requestFrame, responseFrame, startServer, transport } from './harness.js';

/*
 * Reply metadata on the wire (docs/protocol.md, "Reply metadata"): hello kind 27, and a reply
 * head (flag 0x1E) just before the answer, only to a client that offered the kind.
 */

const cleanup = cleanups();

/** Action `k`: sets reply metadata k = v, answers 03. Action `big`: tries an entry over 8 KiB, answers what it was refused with. */
async function serve() {
  const s = await startServer({
    k: (req) => {
      req.setReplyMetadata('k', 'v');
      return bytes(3);
    },
    big: (req) => {
      try {
        req.setReplyMetadata('big', 'x'.repeat(9000));
        return bytes(0);
      } catch (err) {
        const e = err as RpcError;
        return new TextEncoder().encode(`${e instanceof RpcError} ${e.code} ${e.message}`);
      }
    },
  });
  cleanup.push(() => s.server.close());
  return s;
}

/** A raw Skein peer that sent `hello` and read its answer (returned); what it receives next is the server's own. */
async function greeted(address: string, hello: Uint8Array): Promise<{ raw: RawSocket; answer: Buffer }> {
  const raw = await rawConnect(address);
  cleanup.push(() => raw.destroy());
  raw.write(hello);
  await waitFor(() => (raw.received().length >= 20 && raw.received().length >= 20 + raw.received().readUInt32LE(4)) || undefined, { what: 'the hello answer' });
  return { raw, answer: raw.received().subarray(0, 20 + raw.received().readUInt32LE(4)) };
}

const okReply03 = Buffer.from(golden.okReply.subarray(0, 20 - 4)); // header up to blob_len
const okFrame = Buffer.concat([okReply03, Buffer.from('00000000', 'hex'), Buffer.from([3])]);

describe('reply metadata on the wire', () => {
  it('a client that offered kind 27 is sent the reply head just before the answer, as the golden vectors say', async () => {
    const s = await serve();
    const { raw, answer } = await greeted(s.address, golden.helloRequestFull);
    expect(answer).toEqual(Buffer.from(golden.helloAnswerFull));
    raw.write(requestFrame('k', 1));
    const expected = Buffer.concat([Buffer.from(golden.replyMetadata), okFrame]);
    await waitFor(() => raw.received().length >= answer.length + expected.length || undefined, { what: 'the reply' });
    expect(raw.received().subarray(answer.length)).toEqual(expected);
  });

  it('a client that did not offer it (an older Skein client, a razor v1 client) is sent the plain answer alone', async () => {
    const s = await serve();
    const { raw, answer } = await greeted(s.address, golden.helloRequestNoReplyMetadata);
    expect(answer).toEqual(Buffer.from(golden.helloAnswerNoReplyMetadata));
    raw.write(requestFrame('k', 1));
    await waitFor(() => raw.received().length >= answer.length + okFrame.length || undefined, { what: 'the reply' });
    // A ping after it: its answer comes after anything the call's answer could have been followed by.
    raw.write(golden.ping);
    await waitFor(() => raw.received().length >= answer.length + okFrame.length + golden.pong.length || undefined, { what: 'the pong' });
    expect(raw.received().subarray(answer.length)).toEqual(Buffer.concat([okFrame, Buffer.from(golden.pong)]));
    const razor = await connectRazorClient(s.address);
    cleanup.push(() => razor.destroy());
    expect(await razor.call('k')).toMatchObject({ flag: 0, body: Buffer.from([3]) });
    await razor.ping();
    expect(razor.flags).toEqual([0, 0]);
  });

  it("goes with the server's own Timeout answer when the call's deadline passes (as with a handler timeout's answer)", async () => {
    const s = await startServer({
      slow: (req) => {
        req.setReplyMetadata('k', 'v');
        return new Promise<Uint8Array>(() => {});
      },
    });
    cleanup.push(() => s.server.close());
    const { raw, answer } = await greeted(s.address, golden.helloRequestFull);
    // Call seq 5, 250 ms left (its head, then the call): the server answers Timeout itself.
    raw.write(Buffer.concat([golden.head, requestFrame('slow', 5)]));
    const frames = () => {
      const out: { flag: number; seq: number }[] = [];
      const b = raw.received().subarray(answer.length);
      // magic, version, flag, msg_len u32, seq u64, blob_len u32 (docs/protocol.md)
      for (let at = 0; at + 20 <= b.length; at += 20 + b.readUInt32LE(at + 4) + b.readUInt32LE(at + 16)) out.push({ flag: b[at + 3]!, seq: Number(b.readBigUInt64LE(at + 8)) });
      return out;
    };
    await waitFor(() => frames().length >= 2 || undefined, { what: 'the reply head and the Timeout answer' });
    expect(frames()).toEqual([{ flag: 0x1e, seq: 5 }, { flag: 2, seq: 5 }]);
  });

  it("an entry over the client's bound is refused as it is set, FrameTooLarge naming the bound", async () => {
    const s = await serve();
    const client = await s.connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const told: Metadata[] = [];
    const reply = await client.call('big', undefined, { onReplyMetadata: (md) => told.push(md) });
    expect(new TextDecoder().decode(reply.msg)).toMatch(new RegExp(`^true ${ErrorCode.FrameTooLarge} reply metadata of 9010 bytes encoded exceeds the client's limit of 8192$`));
    expect(told).toEqual([{}]);
    const small = await client.call('k', undefined, { onReplyMetadata: (md) => told.push(md) });
    expect(small.msg).toEqual(bytes(3));
    expect(told).toEqual([{}, { k: 'v' }]);
  });

  it('an onReplyMetadata that throws is logged; its call settles as answered, and the connection goes on', async () => {
    const s = await serve();
    const logger = memoryLogger();
    const client = await s.connect({ keepaliveMs: 0, logger });
    cleanup.push(() => client.destroy());
    const reply = await client.call('k', undefined, {
      onReplyMetadata: () => {
        throw new Error('a caller bug');
      },
    });
    expect(reply.msg).toEqual(bytes(3));
    expect(logger.lines).toMatchObject([{ level: 'error', msg: expect.stringContaining('onReplyMetadata threw'), obj: { action: 'k' } }]);
    expect((await client.call('k')).msg).toEqual(bytes(3));
    // Not a function: refused unsent, as any bad option.
    await expect(client.call('k', undefined, { onReplyMetadata: 'no' as never })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: 'onReplyMetadata must be a function' });
  });

  it('a reply head the hello did not agree, or over the bound, is a broken server: the client closes the connection', async () => {
    for (const [answer, head, why] of [
      [golden.helloAnswerNoReplyMetadata, golden.replyMetadata, /reply metadata \(flag 30\) from a server whose hello did not agree it/],
      [golden.helloAnswerFull, replyHead(1, 'x'.repeat(8200)), /reply metadata of 8208 bytes .*exceeds the 8192 this client reads/],
    ] as const) {
      const address = await brokenServer(answer, head);
      const client = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
      cleanup.push(() => client.destroy());
      const told: Metadata[] = [];
      await expect(client.call('k', undefined, { onReplyMetadata: (md) => told.push(md) })).rejects.toMatchObject({ code: ErrorCode.IO });
      expect((await client.closed())?.message).toMatch(why);
      expect(told).toEqual([]);
    }
  });
});

/** A reply head frame for seq `seq` with one entry `h` = `value`. */
function replyHead(seq: number, value: string): Uint8Array {
  const v = Buffer.from(value);
  const head = Buffer.concat([Buffer.from('ffffffff01', 'hex'), Buffer.from('h'), Buffer.from([v.length & 0xff, v.length >>> 8]), v]);
  const frame = Buffer.alloc(20);
  frame.writeUInt16LE(0x4d25, 0);
  frame[2] = 1;
  frame[3] = 0x1e;
  frame.writeUInt32LE(head.length, 4);
  frame.writeUInt32LE(seq, 8);
  return Buffer.concat([frame, head]);
}

/** A server that answers the hello with `answer` and the first call (seq 1) with `head` then 03. */
async function brokenServer(answer: Uint8Array, head: Uint8Array): Promise<string> {
  const srv = net.createServer((sock) => {
    sock.on('error', () => {});
    let got = Buffer.alloc(0);
    let answered = 0;
    sock.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      // The hello (32 + its msg), then the call: answered once each has come whole.
      const helloEnd = got.length >= 32 ? 32 + got.readUInt32LE(24) : Infinity;
      if (answered === 0 && got.length >= helloEnd) (sock.write(answer), (answered = 1));
      if (answered === 1 && got.length >= helloEnd + 32) (sock.write(Buffer.concat([head, okFrame])), (answered = 2));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => srv.close(r)));
  return `127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
}

/*
 * On streams (gRPC's trailers, Connect's onTrailer): the reply head goes just before the stream's
 * end, after its items, on its seq, and the client's `onReplyMetadata` is told it before the end
 * reaches the reader.
 */

/** The items of `s` and its end as its reader sees them, with how many times `told` was told by then. */
async function readToEnd(s: AsyncIterable<Reply>, told: unknown[]) {
  const items: number[] = [];
  let toldAtEnd = -1;
  let error: unknown;
  try {
    for await (const item of s) items.push(item.msg[0]!);
  } catch (e) {
    error = e;
  } finally {
    toldAtEnd = told.length;
  }
  return { items, toldAtEnd, error };
}

/** Stream actions: a feed, a sum of the client's items, an echo that fails at a 0xff, and one that sets an entry after its end. */
async function serveStreams(connect: Partial<ClientStreamOptions> = {}) {
  let lateThrew: unknown = 'not set';
  const s = await startServer(
    {
      // Set before the first item and after the last: both go, with the end.
      feed: async (req) => {
        req.setReplyMetadata('first', '1');
        for (let i = 1; i <= 3; i++) await req.stream!.write(bytes(i));
        req.setReplyMetadata('last', '3');
        return bytes(9);
      },
      sum: async (req) => {
        let sum = 0;
        for await (const item of req.stream!) sum += item.msg[0]!;
        req.setReplyMetadata('sum', String(sum));
        return bytes(sum);
      },
      echo: async (req) => {
        for await (const item of req.stream!) {
          if (item.msg[0] === 0xff) {
            req.setReplyMetadata('failed-at', 'ff');
            throw new RpcError(ErrorCode.PermissionDenied, 'no 0xff');
          }
          await req.stream!.write(item.msg);
        }
        req.setReplyMetadata('echoed', 'all');
      },
      late: (req: ServerRequest) => {
        req.setReplyMetadata('early', '1');
        req.reply(bytes(1));
        try {
          req.setReplyMetadata('late', '2');
          lateThrew = undefined;
        } catch (err) {
          lateThrew = err;
        }
      },
    },
    { closeWaitMs: 0 },
  );
  cleanup.push(() => s.server.close());
  const client = await s.connect({ keepaliveMs: 0, ...connect });
  cleanup.push(() => client.destroy());
  return { client, lateThrew: () => lateThrew };
}

describe('reply metadata on streams', () => {
  it('goes on the wire after the items, just before the end, on the stream\'s seq; to a client that did not offer it, the plain end', async () => {
    const s = await startServer({
      k: async (req) => {
        req.setReplyMetadata('k', 'v');
        await req.stream!.write(bytes(0x0a), bytes(0xbb));
        return bytes(3);
      },
    });
    cleanup.push(() => s.server.close());
    const expected = Buffer.concat([golden.serverData, golden.streamReplyMetadata, golden.streamEnd]);
    const { raw, answer } = await greeted(s.address, golden.helloRequestFull);
    raw.write(Buffer.concat([golden.open, requestFrame('k', 6)]));
    await waitFor(() => raw.received().length >= answer.length + expected.length || undefined, { what: 'the stream' });
    expect(raw.received().subarray(answer.length)).toEqual(expected);
    // Not offered: the items and the end alone, and nothing after (a ping sent then is answered next).
    const older = await greeted(s.address, golden.helloRequestNoReplyMetadata);
    older.raw.write(Buffer.concat([golden.open, requestFrame('k', 6)]));
    const plain = Buffer.concat([golden.serverData, golden.streamEnd]);
    await waitFor(() => older.raw.received().length >= older.answer.length + plain.length || undefined, { what: 'the plain stream' });
    older.raw.write(golden.ping);
    await waitFor(() => older.raw.received().length >= older.answer.length + plain.length + golden.pong.length || undefined, { what: 'the pong' });
    expect(older.raw.received().subarray(older.answer.length)).toEqual(Buffer.concat([plain, golden.pong]));
  });

  it('server streaming: told what was set before and after the items, once, before the reader sees the end', async () => {
    const { client } = await serveStreams();
    const told: Metadata[] = [];
    const s = client.openStream('feed', undefined, { onReplyMetadata: (md) => told.push(md) });
    const read = await readToEnd(s, told);
    expect(read).toEqual({ items: [1, 2, 3], toldAtEnd: 1, error: undefined });
    expect(told).toEqual([{ first: '1', last: '3' }]);
    expect((await s.result).msg).toEqual(bytes(9));
  });

  it("client streaming: told before the stream's result settles", async () => {
    const { client } = await serveStreams();
    const told: Metadata[] = [];
    const s = client.openStream('sum', undefined, { onReplyMetadata: (md) => told.push(md) });
    for (const n of [1, 2, 3]) await s.write(bytes(n));
    s.end();
    const toldAtResult = await s.result.then(() => told.length);
    expect(toldAtResult).toBe(1);
    expect(told).toEqual([{ sum: '6' }]);
  });

  it('both ways: an ok end and an error end carry it, told before the loop ends or its error is thrown', async () => {
    const { client } = await serveStreams();
    for (const [last, entries, code] of [
      [undefined, { echoed: 'all' }, undefined],
      [0xff, { 'failed-at': 'ff' }, ErrorCode.PermissionDenied],
    ] as const) {
      const told: Metadata[] = [];
      const s = client.openStream('echo', undefined, { onReplyMetadata: (md) => told.push(md) });
      const reading = readToEnd(s, told);
      for (const n of [1, 2]) await s.write(bytes(n));
      if (last !== undefined) await s.write(bytes(last));
      s.end();
      const read = await reading;
      expect(read.toldAtEnd).toBe(1);
      expect(told).toEqual([entries]);
      if (code === undefined) expect(read.error).toBeUndefined();
      else expect(read.error).toMatchObject({ code });
    }
  });

  it('an entry set after the end is dropped unsaid, as on a call; a stream without the option is not told', async () => {
    const { client, lateThrew } = await serveStreams();
    const told: Metadata[] = [];
    const s = client.openStream('late', undefined, { onReplyMetadata: (md) => told.push(md) });
    expect(await readToEnd(s, told)).toEqual({ items: [], toldAtEnd: 1, error: undefined });
    expect(told).toEqual([{ early: '1' }]);
    await waitFor(() => lateThrew() !== 'not set' || undefined, { what: 'the late entry' });
    expect(lateThrew()).toBeUndefined();
    // Without the option the head is read and not decoded; the stream ends as before.
    const plain = client.openStream('feed');
    expect((await readToEnd(plain, [])).items).toEqual([1, 2, 3]);
  });

  it('a client that did not agree it gets the plain end, told an empty record; the connection goes on', async () => {
    const { client } = await serveStreams({ transport: olderClientTransport(27) });
    const told: Metadata[] = [];
    const s = client.openStream('feed', undefined, { onReplyMetadata: (md) => told.push(md) });
    expect(await readToEnd(s, told)).toEqual({ items: [1, 2, 3], toldAtEnd: 1, error: undefined });
    expect(told).toEqual([{}]);
    const sum = client.openStream('sum', undefined, { onReplyMetadata: (md) => told.push(md) });
    await sum.write(bytes(4));
    sum.end();
    expect((await sum.result).msg).toEqual(bytes(4));
    expect(told).toEqual([{}, {}]);
  });

  it('an onReplyMetadata that throws is logged and its stream ends as answered; one that is no function is refused unsent', async () => {
    const logger = memoryLogger();
    const { client } = await serveStreams({ logger });
    const s = client.openStream('feed', undefined, {
      onReplyMetadata: () => {
        throw new Error('a caller bug');
      },
    });
    expect((await readToEnd(s, [])).items).toEqual([1, 2, 3]);
    expect((await s.result).msg).toEqual(bytes(9));
    expect(logger.lines).toMatchObject([{ level: 'error', msg: expect.stringContaining("a stream's onReplyMetadata threw"), obj: { action: 'feed' } }]);
    const bad = client.openStream('feed', undefined, { onReplyMetadata: 'no' as never });
    await expect(bad.result).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: 'onReplyMetadata must be a function' });
  });

  it('a reply head for a stream the client dropped (cancelled, timed out) is read and dropped with its end: the connection goes on', async () => {
    const opened = new Set<number>();
    const address = await scriptedServer(golden.helloAnswerFull, (f, write) => {
      if (f.action === OPEN_ACTION) return void opened.add(f.seq);
      // Only once the client dropped the stream: its head and end come late, as a late answer does.
      if (f.action === CANCEL_ACTION) return void write(Buffer.concat([replyHead(f.seq, 'late'), responseFrame(0, f.seq, bytes(3))]));
      // A plain call is answered at once; a stream's opening request, never.
      if (!opened.has(f.seq)) write(responseFrame(0, f.seq, bytes(3)));
    });
    const client = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    // Open throughout, so that frames for the dropped stream's seq are looked up among the open streams.
    const other = client.openStream('other');
    const told: Metadata[] = [];
    const onReplyMetadata = (md: Metadata): void => void told.push(md);
    const cancelled = client.openStream('feed', undefined, { onReplyMetadata });
    await waitFor(() => opened.size === 2 || undefined, { what: 'the opens' });
    cancelled.cancel();
    await expect(cancelled.result).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    expect((await client.call('k')).msg).toEqual(bytes(3));
    const timedOut = client.openStream('feed', undefined, { onReplyMetadata, timeoutMs: 20 });
    await expect(timedOut.result).rejects.toMatchObject({ code: ErrorCode.Timeout });
    expect((await client.call('k')).msg).toEqual(bytes(3));
    expect(told).toEqual([]);
    expect(client.state).toBe('open');
    expect(other.isDone).toBe(false);
    other.cancel();
  });

  it('a reply head on a stream the hello did not agree, or over the bound, is a broken server: the client closes the connection', async () => {
    for (const [answer, value, why] of [
      [golden.helloAnswerNoReplyMetadata, 'v', /reply metadata \(flag 30\) from a server whose hello did not agree it/],
      [golden.helloAnswerFull, 'x'.repeat(8200), /reply metadata of 8208 bytes .*for stream \d+ exceeds the 8192 this client reads/],
    ] as const) {
      const opened = new Set<number>();
      const address = await scriptedServer(answer, (f, write) => {
        if (f.action === OPEN_ACTION) opened.add(f.seq);
        else if (opened.has(f.seq)) write(Buffer.concat([replyHead(f.seq, value), responseFrame(0, f.seq, bytes(3))]));
      });
      const client = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
      cleanup.push(() => client.destroy());
      const told: Metadata[] = [];
      const s = client.openStream('feed', undefined, { onReplyMetadata: (md) => told.push(md) });
      await expect(s.result).rejects.toMatchObject({ code: ErrorCode.IO });
      expect((await client.closed())?.message).toMatch(why);
      expect(told).toEqual([]);
    }
  });
});

/**
 * A raw Skein server that answers the hello with `answer` and hands every other whole request
 * (its numeric action, -1 for a string one, and its seq) to `onRequest`, with a way to answer.
 */
async function scriptedServer(answer: Uint8Array, onRequest: (f: { action: number; seq: number }, write: (b: Uint8Array) => void) => void): Promise<string> {
  const srv = net.createServer((sock) => {
    sock.on('error', () => {});
    let got = Buffer.alloc(0);
    const write = (b: Uint8Array): void => void sock.write(b);
    sock.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      while (got.length >= REQUEST_HEADER_LENGTH) {
        const h = readRequestHeader(got.subarray(0, REQUEST_HEADER_LENGTH));
        const length = REQUEST_HEADER_LENGTH + h.actionLength + h.msgLength + h.blobLength;
        if (got.length < length) break;
        got = got.subarray(length);
        if (h.action === HELLO_ACTION) write(answer);
        // A ping (one asks whether the hello will be answered) gets its pong.
        else if (h.action === PING_ACTION) write(responseFrame(0, h.seq, new Uint8Array(0)));
        else onRequest({ action: h.action, seq: h.seq }, write);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => srv.close(r)));
  return `127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
}

describe("the client's bound: limits.maxReplyMetadata", () => {
  /** Action `sized`: sets `small`, then tries an entry of as many bytes as its msg says; answers how that went. */
  async function sizing() {
    const s = await startServer({
      sized: (req) => {
        req.setReplyMetadata('small', 'kept');
        try {
          req.setReplyMetadata('large', 'x'.repeat(Number(new TextDecoder().decode(req.msg))));
          return new TextEncoder().encode('set');
        } catch (err) {
          return new TextEncoder().encode(`${(err as RpcError).code} ${(err as RpcError).message}`);
        }
      },
    });
    cleanup.push(() => s.server.close());
    return s;
  }

  async function sized(client: ClientStream, n: number) {
    const told: Metadata[] = [];
    const reply = await client.call('sized', new TextEncoder().encode(String(n)), { onReplyMetadata: (md) => told.push(md) });
    return { answer: new TextDecoder().decode(reply.msg), told: told.map((md) => Object.fromEntries(Object.entries(md).map(([k, v]) => [k, v.length]))) };
  }

  it('is the bound the client announces in its hello (kind 27 names it), and the server holds its handlers to it, under 8 KiB or over', async () => {
    const s = await sizing();
    const small = await s.connect({ keepaliveMs: 0, limits: { maxReplyMetadata: 1024 } });
    const large = await s.connect({ keepaliveMs: 0, limits: { maxReplyMetadata: 16 * 1024 } });
    cleanup.push(() => small.destroy(), () => large.destroy());
    expect(await sized(small, 900)).toEqual({ answer: 'set', told: [{ small: 4, large: 900 }] });
    expect(await sized(small, 1000)).toEqual({ answer: `${ErrorCode.FrameTooLarge} reply metadata of 1024 bytes encoded in 2 entries, counted as 1088 (32 an entry besides its bytes) exceeds the client's limit of 1024`, told: [{ small: 4 }] });
    expect(await sized(large, 12_000)).toEqual({ answer: 'set', told: [{ small: 4, large: 12_000 }] });
    expect(await sized(large, 16_400)).toMatchObject({ answer: expect.stringMatching(new RegExp(`^${ErrorCode.FrameTooLarge} .*exceeds the client's limit of 16384$`)), told: [{ small: 4 }] });
    // Within the client's reply limits all the same (its limits.maxMessage, smaller here).
    const both = await s.connect({ keepaliveMs: 0, limits: { maxReplyMetadata: 16 * 1024, maxMessage: 4096 } });
    cleanup.push(() => both.destroy());
    expect(await sized(both, 5000)).toMatchObject({ answer: expect.stringMatching(/exceeds the client's limit of 4096$/) });
    // On the wire: the default's entry stays empty (the golden vectors), another names its bound (u32).
    const limits = { maxMessage: 16 * 1024 * 1024, maxBlob: 64 * 1024 * 1024, maxAction: 1024 };
    expect(Buffer.from(new ClientHello(limits, 1024 * 1024).request!).includes(Buffer.from('1b000000', 'hex'))).toBe(true);
    expect(Buffer.from(new ClientHello({ ...limits, maxReplyMetadata: 1024 }, 1024 * 1024).request!).includes(Buffer.from('1b00040000040000', 'hex'))).toBe(true);
  });

  it('0 reads none: not offered, so what a handler sets is dropped unsaid and the caller is told an empty record', async () => {
    const s = await sizing();
    const client = await s.connect({ keepaliveMs: 0, limits: { maxReplyMetadata: 0 } });
    cleanup.push(() => client.destroy());
    expect(await sized(client, 100_000)).toEqual({ answer: 'set', told: [{}] });
  });

  it('a server that sends more than the client announced is a broken one: the connection closes, the words naming the option', async () => {
    // Its answer names the bound it holds handlers to (a server that reads the value): more is broken.
    const address = await brokenServer(golden.helloAnswerReplyMetadata1024, replyHead(1, 'x'.repeat(1100)));
    const client = await ClientStream.connect({ transport, address, keepaliveMs: 0, limits: { maxReplyMetadata: 1024 } });
    cleanup.push(() => client.destroy());
    const told: Metadata[] = [];
    await expect(client.call('k', undefined, { onReplyMetadata: (md) => told.push(md) })).rejects.toMatchObject({ code: ErrorCode.IO });
    expect((await client.closed())?.message).toMatch(/reply metadata of 1108 bytes .*exceeds the 1024 this client reads \(its limits\.maxReplyMetadata, within its limits\.maxMessage\)/);
    expect(told).toEqual([]);
  });

  it("the server's answer names the bound it holds handlers to (u32) when the offer named one; an empty offer's answer stays empty (golden vectors)", async () => {
    const s = await serve();
    expect((await greeted(s.address, golden.helloRequestReplyMetadata1024)).answer).toEqual(Buffer.from(golden.helloAnswerReplyMetadata1024));
    expect((await greeted(s.address, golden.helloRequestFull)).answer).toEqual(Buffer.from(golden.helloAnswerFull));
  });

  it('a kind 27 value of 1 to 3 bytes (no u32) is read as an empty one, as servers before the value read it: not a hello refused Decode', async () => {
    const s = await serve();
    const { raw, answer } = await greeted(s.address, golden.helloRequestReplyMetadataShort);
    expect(answer).toEqual(Buffer.from(golden.helloAnswerFull));
    // Reply metadata agreed (8 KiB, the empty offer's bound): the head comes before the answer.
    raw.write(requestFrame('k', 1));
    const expected = Buffer.concat([Buffer.from(golden.replyMetadata), okFrame]);
    await waitFor(() => raw.received().length >= answer.length + expected.length || undefined, { what: 'the reply' });
    expect(raw.received().subarray(answer.length)).toEqual(expected);
  });

  it("an older server (it reads kind 27's value as empty, holds heads to 8 KiB, answers empty): a head over the client's bound is dropped, told as an empty record, and the connection goes on", async () => {
    const s = await sizing();
    // Through a transport that sends the offer's kind 27 empty: the real server answers and bounds as one from before the value.
    const logger = memoryLogger();
    const client = await ClientStream.connect({ transport: olderSkeinServerOffer(transport, 27), address: s.address, keepaliveMs: 0, limits: { maxReplyMetadata: 1024 }, logger });
    cleanup.push(() => client.destroy());
    // Within its bound: told as ever, nothing said.
    expect(await sized(client, 900)).toEqual({ answer: 'set', told: [{ small: 4, large: 900 }] });
    expect(logger.lines).toEqual([]);
    expect(await sized(client, 2000)).toEqual({ answer: 'set', told: [{}] });
    // Said once for the connection, at the first drop, naming the option: not a silent empty record.
    const said = [{ level: 'warn', obj: { remote: client.remote, call: expect.any(Number) }, msg: expect.stringMatching(/^reply metadata of 2\d{3} bytes for call \d+ dropped, its onReplyMetadata told an empty record: over this client's limits\.maxReplyMetadata \(1024\), from a server whose hello answer did not say .*Said once per connection$/) }];
    expect(logger.lines).toEqual(said);
    expect(await sized(client, 2000)).toEqual({ answer: 'set', told: [{}] });
    // On a stream too: its end is told the empty record.
    const told: Metadata[] = [];
    const stream = client.openStream('sized', new TextEncoder().encode('3000'), { onReplyMetadata: (md) => told.push(md) });
    expect(new TextDecoder().decode((await stream.result).msg)).toBe('set');
    expect(told).toEqual([{}]);
    expect(client.state).toBe('open');
    expect(logger.lines).toEqual(said);
  });

  it('an older server: a stream whose head is dropped first says it once, for the stream', async () => {
    const s = await sizing();
    const logger = memoryLogger();
    const client = await ClientStream.connect({ transport: olderSkeinServerOffer(transport, 27), address: s.address, keepaliveMs: 0, limits: { maxReplyMetadata: 1024 }, logger });
    cleanup.push(() => client.destroy());
    const stream = client.openStream('sized', new TextEncoder().encode('3000'), { onReplyMetadata: () => {} });
    await stream.result;
    expect(await sized(client, 2000)).toEqual({ answer: 'set', told: [{}] });
    expect(logger.lines).toEqual([{ level: 'warn', obj: { remote: client.remote, stream: expect.any(Number) }, msg: expect.stringMatching(/^reply metadata of 3\d{3} bytes for stream \d+ dropped/) }]);
  });

  it('from a server that answered empty, a head over 8 KiB (more than any server of either kind sends) still closes the connection', async () => {
    const address = await brokenServer(golden.helloAnswerFull, replyHead(1, 'x'.repeat(8200)));
    const client = await ClientStream.connect({ transport, address, keepaliveMs: 0, limits: { maxReplyMetadata: 1024 } });
    cleanup.push(() => client.destroy());
    await expect(client.call('k')).rejects.toMatchObject({ code: ErrorCode.IO });
    expect((await client.closed())?.message).toMatch(/reply metadata of 8208 bytes .*exceeds the 8192 this client reads/);
  });

  it('a value that is no u32 is refused before connecting, naming the option', async () => {
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
      await expect(ClientStream.connect({ transport, address: '127.0.0.1:1', limits: { maxReplyMetadata: bad } })).rejects.toMatchObject({
        code: ErrorCode.InvalidArgument,
        message: `limits.maxReplyMetadata must be an integer in 0..4294967295, got ${bad}`,
      });
    }
  });
});
