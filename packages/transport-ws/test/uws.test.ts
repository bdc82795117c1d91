import { ErrorCode, RpcError } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { uwsTransport, UwsUnavailableError } from '../src/index.js';
import { idleTimeoutSeconds } from '../src/uws-server.js';
import { loadUws } from '../src/uws-loader.js';
import { frame, rawClient, spec, startServer, until } from './helpers.js';
import { cleanups } from '@skein/test-utils';

const cleanup = cleanups();

describe('uWebSockets.js loader', () => {
  it('loads the native server when it is installed', async () => {
    const uws = await loadUws();
    expect(typeof uws.App).toBe('function');
    expect(typeof uws.SSLApp).toBe('function');
  });

  it('says what to install when the module is missing', async () => {
    const err = await loadUws('skein-no-such-uws-module').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UwsUnavailableError);
    expect((err as Error).message).toMatch(/could not be loaded/);
    expect((err as Error).message).toMatch(/npm install/);
    expect((err as Error).message).toMatch(/wsTransport\(\)/);
  });

  it('refuses the pure-JS fallback the @trufflesuite build loads when it has no binary', async () => {
    // The fallback the package would pick on an unsupported runtime, loaded directly.
    const err = await loadUws('uWebSockets.js/dist/index.js').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UwsUnavailableError);
    expect((err as Error).message).toMatch(/fallback/);
    expect((err as Error).message).toMatch(/UWS_USE_FALLBACK/);
  });

  it('fails listen, not construction, when uWebSockets.js is missing', async () => {
    const transport = uwsTransport({ uwsModule: 'skein-no-such-uws-module' });
    const err = await transport.listen({ host: '127.0.0.1', port: 0 }, spec, () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UwsUnavailableError);
  });
});

describe('uWebSockets.js keepalive', () => {
  it('maps the ping interval to an idle timeout of at least 8 s (smaller ones abort the process)', () => {
    expect(idleTimeoutSeconds(0)).toBe(0);
    expect(idleTimeoutSeconds(50)).toBe(8);
    expect(idleTimeoutSeconds(30_000)).toBe(60);
  });

  it('caps the idle timeout at 960 s, above which uWS aborts the process: a long ping interval still listens', async () => {
    expect(idleTimeoutSeconds(480_000)).toBe(960);
    expect(idleTimeoutSeconds(600_000)).toBe(960);
    expect(idleTimeoutSeconds(2 ** 40)).toBe(960);
    const s = await startServer(uwsTransport({ pingIntervalMs: 600_000 }), { echo: true });
    cleanup.push(() => s.listener.close());
    const raw = await rawClient(s.url());
    cleanup.push(() => raw.ws.terminate());
    raw.ws.send(frame('alive'));
    await until(() => raw.messages.length === 1, 'the echo');
  });

  it('drops a peer that stops answering pings', async () => {
    const s = await startServer(uwsTransport({ pingIntervalMs: 1000 }));
    cleanup.push(() => s.listener.close());
    const raw = await rawClient(s.url(), { autoPong: false });
    expect((await raw.closed.promise).code).toBe(1006);
    const err = await s.accepted[0]!.closed.promise;
    // As the ws server's keepalive reports it (README, "Close codes").
    expect(RpcError.is(err, ErrorCode.Timeout)).toBe(true);
    expect((err as Error).message).toMatch(/inactivity/);
  }, 60_000);
});
