import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, connectRazorClient, memoryLogger, rawConnect, waitFor, type RawSocket } from '@skein/test-utils';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientStream, type Metadata } from '../src/index.js';
import { golden } from './golden.js';
import { bytes, requestFrame, startServer, transport } from './harness.js';

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
