import { fileURLToPath } from 'node:url';
import { createServiceDispatch, implement } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger } from '@skein/core';
import { createRouter, RpcServer } from '@skein/stream';
import { describeNeeding } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import type { Metafile } from 'esbuild';
import { afterAll, expect, it } from 'vitest';
import { BLOB_BYTES, Calculator, DivideByZero, ECHO, Feed, STREAM_ITEMS } from '../fixtures/browser/contract.js';
import { bundlePage, pageInChromium } from './browser-page.js';

const PAGE = fileURLToPath(new URL('../fixtures/browser/page.ts', import.meta.url));

/** Bytes each package contributes to the minified bundle: Skein's own (@skein/*) and the rest. */
function bytesByPackage(metafile: Metafile): Map<string, number> {
  const by = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = packageOf(path);
      by.set(name, (by.get(name) ?? 0) + bytesInOutput);
    }
  }
  return by;
}

function packageOf(path: string): string {
  const skein = /packages\/([^/]+)\/dist\//.exec(path);
  if (skein) return `@skein/${skein[1]}`;
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path.replace(/.*node_modules\/\.pnpm\/[^/]+\//, ''));
  return dep ? dep[1]! : 'page';
}

function skeinServer(): RpcServer {
  const api = createServiceDispatch({
    codec: msgpackCodec,
    services: [
      implement(Calculator, {
        add: ({ a, b }) => a + b,
        div: ({ a, b }) => {
          if (b === 0) throw new DivideByZero();
          return a / b;
        },
      }),
      implement(Feed, {
        async *count({ to }) {
          for (let i = 1; i <= to; i++) yield i;
        },
        async *upper(words) {
          for await (const w of words) yield w.toUpperCase();
        },
      }),
    ],
  });
  const router = createRouter({ [ECHO]: (req) => ({ msg: req.msg, blob: req.blob }) }, silentLogger);
  return new RpcServer({ dispatch: { dispatch: (req) => (typeof req.action === 'number' ? router : api).dispatch(req) }, logger: silentLogger });
}

it('bundles a client of @skein/api, the ws transport and a codec for the browser with no flags, without ws or node:*', async () => {
  const { metafile } = await bundlePage(PAGE);
  const inputs = Object.keys(metafile.inputs);
  expect(inputs.filter((p) => /(^|\/)node:|node_modules\/(\.pnpm\/)?ws[@/]/.test(p))).toEqual([]);
  // The browser entry, not the Node one: no server half, no ws adapter.
  expect(inputs.filter((p) => /transport-ws\/dist\/(ws-server|ws-socket|uws-|index)\.js$/.test(p))).toEqual([]);
  const sizes = bytesByPackage(metafile);
  const skein = [...sizes].filter(([n]) => n.startsWith('@skein/')).reduce((s, [, b]) => s + b, 0);
  // The figure docs/transports.md reports; printed so that a change shows in the run.
  console.log(`browser bundle, minified: Skein ${skein} B (${[...sizes].map(([n, b]) => `${n} ${b}`).join(', ')})`);
  expect(skein).toBeGreaterThan(0);
});

describeNeeding(['chromium'], 'a page in headless Chromium', () => {
  const skein = skeinServer();
  const page = pageInChromium(PAGE, async () => {
    const wsPort = (await skein.listen(wsTransport(), '127.0.0.1:0')) as { port: number };
    return `ws=${wsPort.port}`;
  });

  afterAll(async () => {
    await skein.close();
  });

  it('makes typed calls, catches a custom error by class, echoes a 1 MiB blob and streams both ways against a Node server', async () => {
    const { result, errors } = await page.result('skeinResult');
    expect(result).toEqual({
      add: 3,
      customError: 'DivideByZero',
      many: true,
      blob: { length: BLOB_BYTES, same: true, msg: 'with a blob' },
      stream: { items: STREAM_ITEMS, sum: (STREAM_ITEMS * (STREAM_ITEMS + 1)) / 2, upper: ['A', 'B'] },
      hasProcess: false,
    });
    expect(errors).toEqual([]);
  }, 60_000);
});
