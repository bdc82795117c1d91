import { ErrorCode, type RpcError } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { startServer } from './harness.js';

/*
 * Trial: a stream item over the limits failed with "stream item of 0 + 100000000 bytes exceeds
 * the limits (16777216, 67108864)": whose limits, and which option, it did not say, where a call
 * over them says "… exceeds this client's limit of N (limits.maxBlob): not sent"
 * (client-own-limits-words.test.ts). An item's words now name them as a call's do, on both sides.
 */
const cleanup = cleanups();
const KiB = 1024;
const OWN = { maxMessage: 64 * KiB, maxBlob: 64 * KiB, maxAction: KiB };

const words = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'sent',
    (e: RpcError) => `${e.code === ErrorCode.FrameTooLarge ? 'FrameTooLarge' : `code ${e.code}`}: ${e.message}`,
  );

async function sink(serverLimits = {}) {
  let items = 0;
  const s = await startServer(
    {
      ping: () => new Uint8Array(0),
      sink: async (req) => {
        for await (const _ of req.stream!) items++;
      },
    },
    { limits: serverLimits },
  );
  cleanup.push(() => s.server.close());
  const client = await s.connect({ limits: { ...OWN, maxMessage: 4 * KiB, maxBlob: 8 * KiB }, keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  return { s, client, items: () => items };
}

describe("a client's stream item over the limits", () => {
  it.each([
    ['message', new Uint8Array(5000), new Uint8Array(0), `stream item's message of 5000 bytes exceeds this client's limit of 4096 (limits.maxMessage): not sent`],
    ['blob', new Uint8Array(0), new Uint8Array(9000), `stream item's blob of 9000 bytes exceeds this client's limit of 8192 (limits.maxBlob): not sent`],
  ] as const)("a %s over this client's own: FrameTooLarge naming the option, the stream kept", async (_what, msg, blob, expected) => {
    const { client, items } = await sink();
    const stream = client.openStream('sink');
    expect(await words(stream.write(msg, blob))).toBe(`FrameTooLarge: ${expected}`);
    await stream.write(new Uint8Array(8));
    stream.end();
    await stream.result;
    expect(items()).toBe(1);
  });

  it("a part over the server's (its hello's answer), within this client's own: FrameTooLarge naming the server's", async () => {
    const { s, client } = await sink({ maxBlob: 2 * KiB });
    await client.call('ping'); // the hello's answer is in
    const stream = client.openStream('sink');
    expect(await words(stream.write(new Uint8Array(0), new Uint8Array(3000)))).toBe(`FrameTooLarge: stream item's blob of 3000 bytes exceeds ${s.address}'s limit of 2048 (its hello's answer): not sent`);
    stream.end();
    await stream.result;
  });
});

describe("a server's stream item over the client's limits", () => {
  it("fails the handler's write with FrameTooLarge naming the client's option, unsent", async () => {
    const s = await startServer({
      feed: async (req) => new TextEncoder().encode(await words(req.stream!.write(new Uint8Array(5000)))),
    });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ limits: { ...OWN, maxMessage: 4 * KiB }, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const stream = client.openStream('feed');
    const said = new TextDecoder().decode((await stream.result).msg);
    expect(said).toBe(`FrameTooLarge: stream item message of 5000 bytes exceeds the client's limit of 4096 (its limits.maxMessage): not sent`);
  });
});
