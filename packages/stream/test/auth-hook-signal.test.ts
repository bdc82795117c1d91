import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred, memoryLogger, rawConnect, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type AuthRequest, type Authenticate, type RpcServerOptions } from '../src/index.js';
import { AUTH_ACTION, AUTH_ENTRY } from '../src/wire/auth.js';
import { receiveLimitsEntry } from '../src/wire/hello.js';
import { helloOffer, requestFrame as request, transport as tcp } from './harness.js';

const cleanup = cleanups();
const text = new TextEncoder();
const utf8 = new TextDecoder();

/** Lets action 2's calls answer: they wait for it (a call that keeps its connection open while the server drains). */
let release = deferred();

/** A server whose action 1 answers with the principal, and whose action 2 waits for `release`. */
async function serve(authenticate: Authenticate, opts: Partial<RpcServerOptions> = {}) {
  const logger = memoryLogger();
  release = deferred();
  const routes = { 1: (req: { principal: unknown }) => text.encode(String(req.principal)), 2: () => release.promise.then(() => new Uint8Array(0)) };
  const server = new RpcServer({ dispatch: createRouter(routes), logger, authenticate, ...opts });
  cleanup.push(() => server.close());
  const a = await server.listen(tcp, '127.0.0.1:0');
  return { server, logger, address: 'port' in a ? `${a.host}:${a.port}` : '' };
}

const connect = (address: string, credentials: string) =>
  ClientStream.connect({ transport: tcp, address, credentials, keepaliveMs: 0, connectTimeoutMs: 10_000 }).then((s) => (cleanup.push(() => s.destroy()), s));

/**
 * A hook that waits for its signal, as one passing it to an identity provider's fetch would:
 * `started` resolves with each run's request, `aborted` with the first reason its signal gave.
 */
function waitsForItsSignal() {
  const started = deferred<AuthRequest>();
  const aborted = deferred<unknown>();
  const hook: Authenticate = (req) =>
    new Promise((_resolve, reject) => {
      req.signal.addEventListener('abort', () => (aborted.resolve(req.signal.reason), reject(req.signal.reason)), { once: true });
      started.resolve(req);
    });
  return { hook, started: started.promise, aborted: aborted.promise };
}

/** The hello and the credentials of a peer that offers auth, as a Skein client sends them. */
const presenting = (token: string) => new Uint8Array([...helloOffer([receiveLimitsEntry(1 << 20, 1 << 20), AUTH_ENTRY]), ...request(AUTH_ACTION, 1, text.encode(token))]);

// docs/auth.md, "Requiring auth": the hook's `signal` aborts when the server stops waiting for
// that run, with why, so that what it waits on can stop too (a renewal may start a run every
// authTimeoutMs while the earlier ones still run).
describe("an authenticate hook's signal", () => {
  it('aborts at authTimeoutMs with Timeout, the credentials refused as timed out, its late rejection not logged as a failure', async () => {
    const h = waitsForItsSignal();
    const s = await serve(h.hook, { authTimeoutMs: 100 });
    const err = await connect(s.address, 'token').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Unauthenticated, message: 'authentication timed out after 100 ms' });
    const reason = await within(h.aborted, 5_000, "the hook's abort");
    expect(reason).toBeInstanceOf(RpcError);
    expect(reason).toMatchObject({ code: ErrorCode.Timeout, message: 'authentication timed out after 100 ms' });
    expect(s.logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it("aborts a renewal's run at authTimeoutMs with Timeout, the connection going on under its grant", async () => {
    const renewals = waitsForItsSignal();
    const s = await serve((req) => (req.renewal ? renewals.hook(req) : { principal: 'ada' }), { authTimeoutMs: 100 });
    const stream = await connect(s.address, 'token');
    await expect(stream.renewCredentials()).rejects.toMatchObject({ code: ErrorCode.Unauthenticated, message: 'authentication timed out after 100 ms' });
    expect(await within(renewals.aborted, 5_000, "the renewal's abort")).toMatchObject({ code: ErrorCode.Timeout });
    expect(utf8.decode((await stream.call(1)).msg)).toBe('ada');
  });

  it('aborts with IO when the connection closes while the hook runs (its client gone)', async () => {
    const h = waitsForItsSignal();
    // The timeout far off: only the close can abort it.
    const s = await serve(h.hook, { authTimeoutMs: 600_000 });
    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    peer.write(presenting('token'));
    await within(h.started, 5_000, 'the hook run');
    peer.destroy();
    const reason = await within(h.aborted, 5_000, "the hook's abort");
    expect(reason).toBeInstanceOf(RpcError);
    expect(reason).toMatchObject({ code: ErrorCode.IO, message: expect.stringMatching(/^authentication: connection lost: /) });
    await waitFor(() => s.server.connections === 0, { what: 'the connection gone' });
    expect(s.logger.lines.filter((l) => l.level === 'error' || l.msg === 'authentication refused')).toEqual([]);
  });

  it("aborts with Closed when the server begins to close, the credentials answered so, not logged as the hook's failure", async () => {
    const h = waitsForItsSignal();
    const s = await serve(h.hook, { authTimeoutMs: 600_000, closeWaitMs: 5_000 });
    const connecting = connect(s.address, 'token').catch((e: unknown) => e);
    await within(h.started, 5_000, 'the hook run');
    const closing = s.server.close();
    const reason = await within(h.aborted, 5_000, "the hook's abort");
    expect(reason).toBeInstanceOf(RpcError);
    expect(reason).toMatchObject({ code: ErrorCode.Closed, message: 'the server is closing' });
    // The connect fails (Closed, or the connection ended by the drain first): not accepted.
    expect(await within(connecting, 5_000, 'the connect to fail')).toBeInstanceOf(RpcError);
    await within(closing, 10_000, "the server's close");
    expect(s.logger.lines.filter((l) => l.level === 'error' || l.msg === 'authentication refused')).toEqual([]);
  });

  it('does not run the hook for credentials sent once the server began to close: answered Closed, unjudged', async () => {
    const runs: AuthRequest[] = [];
    const s = await serve((req) => (runs.push(req), { principal: 'ada' }), { closeWaitMs: 10_000 });
    const stream = await connect(s.address, 'token');
    // A call under way keeps the connection open through the drain.
    const waiting = stream.call(2);
    await waitFor(() => s.server.stats().inFlight === 1, { what: 'the call under way' });
    const closing = s.server.close();
    await expect(stream.renewCredentials()).rejects.toMatchObject({ code: ErrorCode.Closed, message: 'the server is closing' });
    expect(runs).toHaveLength(1);
    release.resolve();
    await waiting;
    await within(closing, 10_000, "the server's close");
    expect(s.logger.lines.filter((l) => l.msg === 'authentication refused')).toEqual([]);
  });

  it('never aborts for a hook that answered in time: not when its connection closes, nor when the server does', async () => {
    const runs: AuthRequest[] = [];
    const told: unknown[] = [];
    const s = await serve((req) => {
      runs.push(req);
      req.signal.addEventListener('abort', () => told.push(req.signal.reason));
      return { principal: 'ada' };
    });
    const stream = await connect(s.address, 'token');
    await stream.renewCredentials();
    expect(utf8.decode((await stream.call(1)).msg)).toBe('ada');
    const open = await connect(s.address, 'token');
    await stream.destroy();
    await waitFor(() => s.server.connections === 1, { what: "the first client's connection gone" });
    // The second still open as the server closes.
    await s.server.close();
    expect(open.state).not.toBe('open');
    expect(runs).toHaveLength(3);
    expect(runs.map((r) => r.signal.aborted)).toEqual([false, false, false]);
    expect(told).toEqual([]);
  });
});
