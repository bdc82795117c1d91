import { createClient } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { docsWithSnippets, render } from '../../../scripts/snippets.mjs';
import { callShop } from '../src/call.js';
import { buyTea, buyTeaTyped } from '../src/custom-error.js';
import { Shop } from '../src/define.js';
import { serve } from '../src/serve.js';
import { Accounts } from '../src/validate.js';
import { firstTicks, tickerDispatch } from '../src/streams.js';

describe('docs/getting-started.md', () => {
  it('shows each snippet exactly as its compiled file', () => {
    for (const file of docsWithSnippets() as string[]) {
      const md = fs.readFileSync(file, 'utf8');
      expect(render(md), `${file} drifted: run node scripts/snippets.mjs`).toBe(md);
    }
  });
});

describe('the snippets work as the page says', () => {
  it('serves, calls, and handles the custom error both ways', async () => {
    const { server, port } = await serve();
    try {
      expect(await callShop(port)).toBe(4.5);
      const stream = await ClientStream.connect({ transport: tcpTransport(nodeRuntime), address: `127.0.0.1:${port}` });
      const shop = createClient(Shop, stream, { codec: msgpackCodec });
      expect(await buyTeaTyped(shop)).toMatch(/^tea-/); // 3 in stock, buy 1
      expect(await buyTea(shop)).toBe('sold out'); // 10 > 2 left
      expect(await buyTeaTyped(shop)).toMatch(/^tea-/);
      await stream.close();
    } finally {
      await server.close();
    }
  });

  it('rejects a bad argument before sending, naming the method and path', async () => {
    const never = { send: () => expect.unreachable('nothing may be sent') };
    const accounts = createClient(Accounts, never, { codec: msgpackCodec });
    await expect(accounts.open({ owner: 'x', deposit: 5 })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: expect.stringMatching(/Accounts\.open: invalid argument: owner: /),
    });
  });
});

describe('the streams snippet', () => {
  it('reads the first items of a server stream, and breaking out leaves the connection usable', async () => {
    const server = new RpcServer({ dispatch: tickerDispatch });
    const bound = await server.listen(tcpTransport(nodeRuntime), { host: '127.0.0.1', port: 0 });
    const stream = await ClientStream.connect({ transport: tcpTransport(nodeRuntime), address: `127.0.0.1:${'port' in bound ? bound.port : 0}` });
    try {
      expect(await firstTicks(stream, 3)).toEqual([1, 2, 3]);
      expect(await firstTicks(stream, 5)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      await stream.close();
      await server.close();
    }
  });
});
