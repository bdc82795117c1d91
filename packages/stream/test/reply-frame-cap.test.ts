import { ErrorCode, type RpcError } from '@skein/core';
import { cleanups, memoryLogger } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';

/*
 * The client's half of kind 26's max_frame: a reply within every limit the client declared (its
 * `limits`, the defaults here) but over the largest frame its own transport carries (a WebSocket
 * client's maxWsMessageBytes; 1 MiB here, standing in for the default 64 MiB + 64 KiB under a
 * 70 MiB reply) was sent, the client's socket closed with 1009, and every call on the connection
 * read "may have executed". The client now names the cap in its hello (kind 1's max_frame): the
 * server refuses such a reply (FrameTooLarge, naming the option) and the connection stays.
 */
const cleanup = cleanups();
const MiB = 1024 * 1024;
/** A response frame's header. */
const HEADER = 20;

async function start() {
  const logger = memoryLogger();
  const size = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
  const dispatch = createRouter({
    // Replies with a message of the size asked (its first u32), and a blob of the second.
    sized: (req) => ({ msg: new Uint8Array(size(req.msg)), blob: new Uint8Array(size(req.msg.subarray(4))) }),
    // Writes one item of the sizes asked, then answers.
    items: async (req) => {
      const err = await req.stream!.write(new Uint8Array(size(req.msg)), new Uint8Array(size(req.msg.subarray(4)))).then(
        () => 'sent',
        (e: RpcError) => `${e.code === ErrorCode.FrameTooLarge ? 'FrameTooLarge' : `code ${e.code}`}: ${e.message}`,
      );
      return new TextEncoder().encode(err);
    },
  });
  const server = new RpcServer({ dispatch, logger });
  cleanup.push(() => server.close());
  const a = (await server.listen(wsTransport(), '127.0.0.1:0')) as { host: string; port: number };
  const client = await ClientStream.connect({ transport: wsTransport({ maxWsMessageBytes: MiB }), address: `${a.host}:${a.port}`, keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  return { client, logger };
}

const ask = (msg: number, blob = 0): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, msg, true);
  new DataView(b.buffer).setUint32(4, blob, true);
  return b;
};

const outcome = (p: Promise<{ msg: Uint8Array; blob: Uint8Array }>): Promise<string> =>
  p.then(
    (r) => `ran ${r.msg.length} + ${r.blob.length}`,
    (e: RpcError) => `${e.code === ErrorCode.FrameTooLarge ? 'FrameTooLarge' : `code ${e.code}`}: ${e.message}`,
  );

describe("a reply over the largest frame the client's transport carries (WebSocket, maxWsMessageBytes)", () => {
  it("is refused by the server (FrameTooLarge, naming the client's option), and the connection stays", async () => {
    const { client, logger } = await start();
    // The largest frame the client's socket takes goes; a byte more is refused by the server.
    expect(await outcome(client.call('sized', ask(MiB - HEADER)))).toBe(`ran ${MiB - HEADER} + 0`);
    expect(await outcome(client.call('sized', ask(MiB - HEADER + 1)))).toMatch(
      /^FrameTooLarge: sized: reply frame of 1048577 bytes exceeds the largest frame the client's transport carries, 1048576 .*maxWsMessageBytes/,
    );
    // Each part within the cap, both together over it.
    expect(await outcome(client.call('sized', ask(MiB / 2, MiB / 2)))).toMatch(/^FrameTooLarge: sized: reply frame of 1048596 bytes .*maxWsMessageBytes/);
    expect(await outcome(client.call('sized', ask(0, 2 * MiB)))).toMatch(/^FrameTooLarge: .*maxWsMessageBytes/);
    expect(client.state).toBe('open');
    expect(await outcome(client.call('sized', ask(8, 8)))).toBe('ran 8 + 8');
    expect(logger.lines.some((l) => l.level === 'warn' && /maxWsMessageBytes/.test(String(l.obj?.reason ?? '')))).toBe(true);
  });

  it("refuses a server stream's item over it unsent, naming the option, and the stream goes on to its answer", async () => {
    const { client } = await start();
    const stream = client.openStream('items', ask(MiB / 2, MiB / 2));
    const words = new TextDecoder().decode((await stream.result).msg);
    expect(words).toMatch(/^FrameTooLarge: stream item frame of 1048596 bytes exceeds the largest frame the client's transport carries, 1048576 .*maxWsMessageBytes.*not sent/);
    expect(client.state).toBe('open');
  });
});
