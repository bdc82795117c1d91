import { ErrorCode } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { startServer } from './harness.js';

/*
 * Trial (bulk uploads): a client whose server allows 300 MiB blobs, its own `limits` left at
 * the default, was refused a 100 MiB blob with "blob of … bytes exceeds the limit of 67108864":
 * whose limit, and which option, it did not say (the server's refusal says "the server's").
 * A client's own limits bound what it sends too, so the words must name them.
 */
const cleanup = cleanups();

describe("a request over the client's own limits", () => {
  it.each([
    ['blob', { maxBlob: 1024 }, new Uint8Array(8), new Uint8Array(2048), 'maxBlob'],
    ['message', { maxMessage: 1024 }, new Uint8Array(2048), new Uint8Array(0), 'maxMessage'],
  ] as const)('a %s: FrameTooLarge naming this client\'s limits option, unsent', async (_what, limits, msg, blob, option) => {
    let runs = 0;
    const s = await startServer({ echo: (req) => (runs++, req.msg) });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ limits: { maxMessage: 1 << 20, maxBlob: 1 << 20, maxAction: 1024, ...limits }, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const err = await client.call('echo', msg, { blob }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.FrameTooLarge });
    expect((err as Error).message).toContain(`this client's limit of 1024 (limits.${option})`);
    await client.call('echo');
    expect(runs).toBe(1);
  });
});
