import { ErrorCode } from '@skein/core';
import { describe, expect, it } from 'vitest';
import type { ActionHandler, ClientStream, ServerRequest } from '../src/index.js';
import { startServer } from './harness.js';
import { cleanups } from '@skein/test-utils';

// ServerRequest.reply and failCustom say what they sent: a wrapper that records calls (tracing)
// records what the client got, not the answer the handler gave.

const cleanup = cleanups<() => Promise<unknown>>();

/** The client takes at most this in a reply's message and in its blob (its hello says so). */
const LIMIT = 1024;

/** A server whose `answer` action answers with `first`, then replies once more (which must write nothing); what each returned. */
async function answering(first: (req: ServerRequest) => unknown): Promise<{ client: ClientStream; returned: unknown[] }> {
  const returned: unknown[] = [];
  const answer: ActionHandler = (req) => {
    returned.push(first(req), req.reply());
  };
  const s = await startServer({ answer });
  cleanup.push(() => s.server.close());
  const client = await s.connect({ limits: { maxMessage: LIMIT, maxBlob: LIMIT } });
  cleanup.push(() => client.close());
  return { client, returned };
}

describe('ServerRequest.reply', () => {
  it('returns undefined for a reply that went out, and for a later one that did not', async () => {
    const { client, returned } = await answering((req) => req.reply(new Uint8Array(LIMIT)));
    expect((await client.call('answer')).msg.length).toBe(LIMIT);
    expect(returned).toEqual([undefined, undefined]);
  });

  it('returns FrameTooLarge for a message over the client limit: the error the client gets instead', async () => {
    const { client, returned } = await answering((req) => req.reply(new Uint8Array(LIMIT + 1)));
    await expect(client.call('answer')).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge });
    expect(returned).toEqual([ErrorCode.FrameTooLarge, undefined]);
  });

  it('returns FrameTooLarge for a blob over the client limit', async () => {
    const { client, returned } = await answering((req) => req.reply(new Uint8Array(0), new Uint8Array(LIMIT + 1)));
    await expect(client.call('answer')).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge });
    expect(returned).toEqual([ErrorCode.FrameTooLarge, undefined]);
  });

  it('failCustom returns the built-in error sent instead: FrameTooLarge for bytes over the limit, Internal for a number not a u32', async () => {
    const big = await answering((req) => req.failCustom(new Uint8Array(LIMIT + 1)));
    await expect(big.client.call('answer')).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge });
    expect(big.returned).toEqual([ErrorCode.FrameTooLarge, undefined]);
    const negative = await answering((req) => req.failCustom(-1));
    await expect(negative.client.call('answer')).rejects.toMatchObject({ code: ErrorCode.Internal });
    expect(negative.returned).toEqual([ErrorCode.Internal, undefined]);
    const fits = await answering((req) => req.failCustom(7));
    await expect(fits.client.call('answer')).rejects.toMatchObject({ payload: 7 });
    expect(fits.returned).toEqual([undefined, undefined]);
  });
});
