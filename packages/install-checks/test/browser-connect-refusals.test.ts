import { fileURLToPath } from 'node:url';
import { ErrorCode, silentLogger } from '@skein/core';
import { createRouter, RpcServer } from '@skein/stream';
import { describeNeeding } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { afterAll, expect, it } from 'vitest';
import { pageInChromium } from './browser-page.js';

const PAGE = fileURLToPath(new URL('../fixtures/browser/connect-refusals-page.ts', import.meta.url));

describeNeeding(['chromium'], 'a page in headless Chromium connecting to a server whose upgrade hook wants a token', () => {
  // Lets in the upgrade whose query holds the token, or whose headers do (which a page cannot send).
  const transport = wsTransport({ upgrade: (req) => req.url.endsWith('token=good') || req.headers.authorization === 'Bearer good' });
  const skein = new RpcServer({ dispatch: createRouter({}, silentLogger), logger: silentLogger });
  const page = pageInChromium(PAGE, async () => {
    const { port } = (await skein.listen(transport, '127.0.0.1:0')) as { port: number };
    return `ws=${port}`;
  });

  afterAll(async () => {
    await skein.close();
  });

  it("refuses headers it cannot send, and names a refused URL without the page's token", async () => {
    const { result, errors } = await page.result('skeinConnectRefusals');
    expect(errors).toEqual([]);
    const r = result as Record<string, { connected: boolean; code?: number; message?: string }>;
    // Refused before dialling, saying what to do, rather than dropped and answered 401, which the
    // page's WebSocket reports as no more than a close before opening.
    expect(r.headers).toMatchObject({ connected: false, code: ErrorCode.InvalidArgument, message: expect.stringMatching(/^headers: .*path's query/) });
    // The hook's refusal is all the page's WebSocket tells (Unreachable); the token is not in it.
    expect(r.badToken).toMatchObject({ connected: false, code: ErrorCode.Unreachable, message: expect.stringMatching(/\/skein\?…: closed before opening/) });
    expect(r.badToken!.message).not.toContain('s3cret');
    expect(r.goodToken).toEqual({ connected: true });
  }, 60_000);
});
