import { createServer, type Server } from 'node:http';
import { repoTool } from '@skein/test-utils';
import { build, type Metafile } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

/** Debian's headless Chromium, never a downloaded one; flags for a container without a GPU or sandbox. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** Launches Debian's Chromium (a test file shares one: launches are slow). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: repoTool('chromium'), args: CHROMIUM_ARGS });
}

/**
 * Bundles a page's script as an application would: esbuild, `--bundle --platform=browser`, no
 * other flags, from the packages' built output (dist/, through their `browser` export condition).
 */
export async function bundlePage(entry: string): Promise<{ code: string; metafile: Metafile }> {
  const out = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', minify: true, write: false, metafile: true, logLevel: 'silent' });
  return { code: out.outputFiles[0]!.text, metafile: out.metafile };
}

/** Serves `code` as a page's module script on loopback: the page is at `/`. */
export function servePage(code: string): Promise<{ server: Server; port: number }> {
  const files: Record<string, { type: string; body: string }> = {
    '/': { type: 'text/html', body: '<!doctype html><title>skein</title><script type="module" src="/page.js"></script>' },
    '/page.js': { type: 'text/javascript', body: code },
  };
  const server = createServer((req, res) => {
    const f = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f.type }).end(f.body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

/**
 * Opens `url` in a new page and returns what its script left, as JSON, in `window[key]`
 * (the page reports; the test judges), with the errors the page threw meanwhile.
 */
export async function pageResult(browser: Browser, url: string, key: string, timeoutMs = 30_000): Promise<{ result: unknown; errors: string[] }> {
  const page: Page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(url);
    const handle = await page.waitForFunction((k) => (window as unknown as Record<string, string | undefined>)[k], key, { timeout: timeoutMs });
    return { result: JSON.parse((await handle.jsonValue()) as string), errors };
  } finally {
    await page.close();
  }
}

/**
 * A describe block's page: before its tests, bundles `entry`, starts the servers the page speaks
 * to (`start`, which gives the page's query string), serves the page and launches Chromium;
 * after them, closes the browser and the page's server (the servers `start` made are the
 * caller's to close). `result(key)` opens the page and reads what it left in `window[key]`.
 */
export function pageInChromium(entry: string, start: () => Promise<string>): { result(key: string, timeoutMs?: number): Promise<{ result: unknown; errors: string[] }> } {
  let browser: Browser | undefined;
  let http: Server | undefined;
  let url = '';
  beforeAll(async () => {
    const { code } = await bundlePage(entry);
    const query = await start();
    const web = await servePage(code);
    http = web.server;
    url = `http://127.0.0.1:${web.port}/?${query}`;
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    http?.close();
  });
  return { result: (key, timeoutMs) => pageResult(browser!, url, key, timeoutMs) };
}
