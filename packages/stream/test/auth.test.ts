import { ErrorCode, RpcError, parseAddress, type Transport } from '@skein/core';
import { ManualClock, deferred, fromHex, memoryLogger, rawConnect, startTcpRelay, waitFor, within, cleanups } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import {
  ClientStream,
  ConnPool,
  FailoverPool,
  RpcServer,
  createRouter,
  type AuthRequest,
  type Authenticate,
  type ClientStreamOptions,
  type Credentials,
  type RpcServerOptions,
} from '../src/index.js';
import { AUTH_ACTION, AUTH_ENTRY, encodeGrant } from '../src/wire/auth.js';
import { HelloKind, HelloRole, decodeHello, encodeHello, findEntry, receiveLimitsEntry } from '../src/wire/hello.js';
import { HELLO_ACTION, readRequestHeader } from '../src/wire/protocol.js';
import { requestFrameSpec } from '../src/wire/frame-specs.js';
import { DEFAULT_LIMITS } from '../src/wire/limits.js';
import { errorStringFrame, golden } from './golden.js';
import { rawPeer, recordingTransport, transport as tcp, requestFrame as request } from './harness.js';

const cleanup = cleanups();

const text = new TextEncoder();
const utf8 = new TextDecoder();

/** A token check: `good-<name>` is the principal `{ name }`, `stale-...` has expired, anything else is wrong. */
const tokens: Authenticate = ({ text }) => {
  if (text.startsWith('good-')) return { principal: { name: text.slice(5) } };
  if (text.startsWith('stale-')) throw new RpcError(ErrorCode.Unauthenticated, 'token expired');
  if (text.startsWith('banned-')) throw new RpcError(ErrorCode.PermissionDenied, 'this account may not call');
  return undefined;
};

/** A server whose action 1 answers with the principal's name and counts what reached dispatch. */
async function authServer(t: Transport, opts: Partial<RpcServerOptions> = {}) {
  const logger = memoryLogger();
  const seen = { dispatched: 0, hookCalls: [] as AuthRequest[] };
  const hook = opts.authenticate ?? tokens;
  const server = new RpcServer({
    dispatch: createRouter({
      1: (req) => {
        seen.dispatched++;
        return text.encode((req.principal as { name?: string } | undefined)?.name ?? '-');
      },
    }),
    logger,
    ...opts,
    authenticate: (req) => (seen.hookCalls.push(req), hook(req)),
  });
  cleanup.push(() => server.close());
  const a = await server.listen(t, '127.0.0.1:0');
  const address = 'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`;
  return { server, address, logger, seen };
}

const TRANSPORTS: [string, Transport][] = [
  ['tcp', tcp],
  ['ws', wsTransport()],
];

describe.each(TRANSPORTS)('the auth handshake over %s', (_name, t) => {
  const connect = (address: string, credentials?: Credentials, more: Partial<ClientStreamOptions> = {}) =>
    ClientStream.connect({ transport: t, address, credentials, keepaliveMs: 0, ...more }).then((s) => (cleanup.push(() => s.destroy()), s));

  it('waits for the verdict under a connectTimeoutMs past what a timer holds (2^32 ms), which a timer would fire at once', async () => {
    // The verdict comes later than a timer that overflowed (to ~1 ms) would wait.
    const s = await authServer(t, { authenticate: async (req) => (await new Promise((resolve) => setTimeout(resolve, 50)), tokens(req)) });
    const stream = await connect(s.address, 'good-ada', { connectTimeoutMs: 2 ** 32 });
    expect(utf8.decode((await stream.call(1)).msg)).toBe('ada');
  });

  it('accepts credentials before any call: the principal reaches the request, the hook saw the token', async () => {
    const s = await authServer(t);
    const stream = await connect(s.address, 'good-ada');
    expect(utf8.decode((await stream.call(1)).msg)).toBe('ada');
    expect(s.seen.hookCalls).toHaveLength(1);
    expect(s.seen.hookCalls[0]).toMatchObject({ text: 'good-ada', renewal: false, current: undefined });
    expect(s.seen.hookCalls[0]!.conn.transport).toBe(t.name);
  });

  it('gives the hook a token that begins with U+FEFF as it was sent: a character, not a byte-order mark dropped', async () => {
    const s = await authServer(t, { authenticate: ({ text }) => (text === '\uFEFFgood' ? { principal: { name: 'bom' } } : undefined) });
    const stream = await connect(s.address, '\uFEFFgood');
    expect(utf8.decode((await stream.call(1)).msg)).toBe('bom');
    expect(s.seen.hookCalls.map((r) => r.text)).toEqual(['\uFEFFgood']);
    // The bytes the text reads: one token never reads as another (without its U+FEFF, it would be 'good').
    expect(Array.from(s.seen.hookCalls[0]!.credentials.subarray(0, 3))).toEqual([0xef, 0xbb, 0xbf]);
  });

  it('takes credentials from an async function, called per connection', async () => {
    const s = await authServer(t);
    let fetched = 0;
    const credentials = async () => `good-user${++fetched}`;
    const a = await connect(s.address, credentials);
    const b = await connect(s.address, credentials);
    expect(utf8.decode((await a.call(1)).msg)).toBe('user1');
    expect(utf8.decode((await b.call(1)).msg)).toBe('user2');
  });

  it('refuses calls from a client without credentials, with a log line, dispatching nothing', async () => {
    const s = await authServer(t);
    const stream = await connect(s.address);
    const errs = await Promise.all([stream.call(1).catch((e: unknown) => e), stream.call(1).catch((e: unknown) => e)]);
    for (const err of errs) expect(err).toMatchObject({ code: ErrorCode.Unauthenticated, message: expect.stringMatching(/requires authentication/) });
    expect(s.seen.dispatched).toBe(0);
    // One line per connection, not per call.
    expect(s.logger.lines.filter((l) => l.msg === 'unauthenticated call refused')).toHaveLength(1);
  });

  it.each([
    ['a wrong token', 'nonsense', ErrorCode.Unauthenticated, /credentials refused/],
    ['an expired token', 'stale-ada', ErrorCode.Unauthenticated, /token expired/],
    ['a principal that may not call', 'banned-eve', ErrorCode.PermissionDenied, /may not call/],
  ])('fails the connect on %s with a typed error, logged, dispatching nothing', async (_what, token, code, message) => {
    const s = await authServer(t);
    const err = await connect(s.address, token).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code, message: expect.stringMatching(message) });
    expect(s.seen.dispatched).toBe(0);
    expect(s.logger.lines.some((l) => l.level === 'warn' && l.msg === 'authentication refused')).toBe(true);
    await waitFor(() => s.server.connections === 0, { what: 'the refused connection closed' });
  });

  it('logs refused credentials once per code and reason, then counts them: strangers cannot flood the log', async () => {
    const s = await authServer(t);
    for (let i = 0; i < 10; i++) await connect(s.address, 'nonsense').catch((e: unknown) => e);
    await connect(s.address, 'banned-eve').catch((e: unknown) => e);
    await s.server.close();
    const lines = s.logger.lines.filter((l) => String(l.msg).startsWith('authentication refused'));
    expect(lines.map((l) => l.msg).sort()).toEqual([
      'authentication refused',
      'authentication refused',
      'authentication refused (Unauthenticated: credentials refused): 9 more connections since the last line',
    ]);
    expect(lines.filter((l) => l.msg === 'authentication refused').map((l) => l.obj.code).sort()).toEqual(['PermissionDenied', 'Unauthenticated']);
  });

  it('refuses without saying why when the hook throws, and logs what it threw', async () => {
    const s = await authServer(t, {
      authenticate: () => {
        throw new Error('token store down at 10.0.0.7');
      },
    });
    const err = await connect(s.address, 'good-ada').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Unauthenticated, message: 'authentication failed' });
    expect(s.logger.lines.some((l) => l.level === 'error' && /token store down/.test(String((l.obj.err as Error)?.message)))).toBe(true);
    expect(s.seen.dispatched).toBe(0);
  });

  it('refuses credentials, and answers, even when the logger throws writing the refusal (the hello was left unanswered)', async () => {
    const throwing = { debug() {}, info() {}, warn() { throw new Error('cannot write this line'); }, error() { throw new Error('cannot write this line'); } };
    const s = await authServer(t, { logger: throwing, authTimeoutMs: 60_000 });
    // Bounded by connectTimeoutMs only as a safety net: the refusal must come, not a timeout.
    const err = await connect(s.address, 'wrong', { connectTimeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Unauthenticated });
    await waitFor(() => s.server.connections === 0, { what: 'the refused connection closed' });
  });

  it('refuses credentials whose hook never settles after authTimeoutMs, like a refusal, and frees the connection', async () => {
    const never = new Promise<undefined>(() => {});
    const s = await authServer(t, {
      authTimeoutMs: 50,
      maxConnections: 1,
      authenticate: (req) => (req.text.startsWith('hang-') ? never : tokens(req)),
    });
    const err = await connect(s.address, 'hang-ada').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Unauthenticated, message: expect.stringMatching(/authentication timed out after 50 ms/) });
    const refused = s.logger.lines.filter((l) => l.level === 'warn' && l.msg === 'authentication refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.obj).toMatchObject({ reason: 'authentication timed out after 50 ms', renewal: false });
    expect(s.seen.dispatched).toBe(0);
    await waitFor(() => s.server.connections === 0, { what: 'the timed-out connection closed' });
    // Its place under maxConnections is free again.
    expect(s.server.stats()).toMatchObject({ clients: 0, refused: 0 });
    const next = await connect(s.address, 'good-bob');
    expect(utf8.decode((await next.call(1)).msg)).toBe('bob');
  });

  it('refuses a renewal whose hook never settles after authTimeoutMs, keeping the connection on its grant', async () => {
    const s = await authServer(t, {
      authTimeoutMs: 50,
      authenticate: (req) => (req.renewal ? new Promise<undefined>(() => {}) : tokens(req)),
    });
    const stream = await connect(s.address, 'good-ada');
    await expect(stream.renewCredentials()).rejects.toMatchObject({ code: ErrorCode.Unauthenticated, message: expect.stringMatching(/timed out/) });
    // Not left "being checked": the next renewal reaches the hook.
    await expect(stream.renewCredentials()).rejects.toMatchObject({ code: ErrorCode.Unauthenticated, message: expect.stringMatching(/timed out/) });
    expect(s.seen.hookCalls).toHaveLength(3);
    expect(utf8.decode((await stream.call(1)).msg)).toBe('ada');
  });

  it('fails the connect when the credentials function throws, before the server sees anything', async () => {
    const s = await authServer(t);
    const err = await connect(s.address, () => Promise.reject(new Error('vault sealed'))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Unauthenticated, retry: 'safe', message: expect.stringMatching(/vault sealed/) });
    expect(s.seen.hookCalls).toHaveLength(0);
  });

  it('fails the connect, without a signal, when the credentials function never settles: Unauthenticated at connectTimeoutMs, the connection closed', async () => {
    const s = await authServer(t);
    // Its bound: a connect that waits for ever fails here, named, not at the test's timeout.
    const err = await within(connect(s.address, () => new Promise<string>(() => {}), { connectTimeoutMs: 300 }).catch((e: unknown) => e), 15_000, 'the connect to settle');
    expect(err).toMatchObject({ code: ErrorCode.Unauthenticated, retry: 'safe', message: 'credentials could not be fetched: the credentials function did not settle within 300 ms' });
    await waitFor(() => s.server.connections === 0, { what: 'the connection it opened closed' });
    expect(s.seen.hookCalls).toHaveLength(0);
  });

  it('answers a client that sends no hello (as razor v1) with rpc_unauthenticated', async () => {
    const s = await authServer(t);
    // Limits this small send no hello: the client speaks plain v1.
    const stream = await connect(s.address, undefined, { limits: { maxMessage: 512, maxBlob: 512 } });
    await expect(stream.call(1)).rejects.toMatchObject({ code: ErrorCode.Unauthenticated, message: expect.stringMatching(/requires authentication/) });
    expect(s.seen.dispatched).toBe(0);
  });

  it('lets a server that does not require auth serve both, the principal only where accepted', async () => {
    const s = await authServer(t, { requireAuth: false });
    const anonymous = await connect(s.address);
    const known = await connect(s.address, 'good-bob');
    expect(utf8.decode((await anonymous.call(1)).msg)).toBe('-');
    expect(utf8.decode((await known.call(1)).msg)).toBe('bob');
  });

  it('renews credentials under a flood of calls: no call fails, every renewal is accepted', async () => {
    const clock = new ManualClock();
    let renewals = 0;
    const s = await authServer(t, {
      clock,
      authenticate: async (req) => {
        if (req.renewal) renewals++;
        // A hook that takes a while: calls keep going meanwhile.
        await new Promise((r) => setImmediate(r));
        return req.text.startsWith('good-') ? { principal: { name: req.text.slice(5) }, expiresInMs: 1000 } : undefined;
      },
    });
    let issued = 0;
    const stream = await connect(s.address, () => `good-t${++issued}`, { clock, window: 64 });
    let failed = 0;
    let ok = 0;
    for (let step = 0; step < 40; step++) {
      clock.advance(100);
      const batch = Array.from({ length: 250 }, () => stream.call(1).then(() => ok++, () => failed++));
      await Promise.all(batch);
    }
    expect({ failed, ok }).toEqual({ failed: 0, ok: 10_000 });
    // 4 s of 1 s grants renewed at three quarters: at least 4 renewals, each with a freshly fetched token.
    expect(renewals).toBeGreaterThanOrEqual(4);
    expect(issued).toBe(renewals + 1);
    expect(s.seen.dispatched).toBe(10_000);
  });

  it('renews on demand: renewCredentials() resolves once accepted, and the new principal serves later calls', async () => {
    const s = await authServer(t);
    let n = 0;
    const stream = await connect(s.address, () => `good-v${++n}`);
    expect(utf8.decode((await stream.call(1)).msg)).toBe('v1');
    await stream.renewCredentials();
    expect(utf8.decode((await stream.call(1)).msg)).toBe('v2');
    expect(s.seen.hookCalls[1]).toMatchObject({ renewal: true, current: { name: 'v1' }, text: 'good-v2' });
  });

  it('renews with credentials given to renewCredentials, after a renewal under way, and keeps them for later ones', async () => {
    const s = await authServer(t);
    let n = 0;
    const stream = await connect(s.address, () => `good-v${++n}`);
    await Promise.all([stream.renewCredentials(), stream.renewCredentials('good-given')]);
    expect(s.seen.hookCalls.map((r) => r.text)).toEqual(['good-v1', 'good-v2', 'good-given']);
    expect(utf8.decode((await stream.call(1)).msg)).toBe('given');
    await stream.renewCredentials();
    expect(s.seen.hookCalls[3]).toMatchObject({ text: 'good-given', renewal: true });
  });

  it('keeps the connection when a renewal is refused: the current credentials stay good', async () => {
    const s = await authServer(t);
    let token = 'good-ada';
    const stream = await connect(s.address, () => token);
    token = 'nonsense';
    await expect(stream.renewCredentials()).rejects.toMatchObject({ code: ErrorCode.Unauthenticated });
    expect(utf8.decode((await stream.call(1)).msg)).toBe('ada');
  });
});

describe('auth on the wire (raw peer over TCP)', () => {
  /** A hello offer with receive limits and, when asked, the auth entry. */
  function helloFrame(offerAuth: boolean): Uint8Array {
    const entries = [receiveLimitsEntry(1 << 24, 1 << 26)];
    if (offerAuth) entries.push(AUTH_ENTRY);
    return request(HELLO_ACTION, 0, encodeHello(HelloRole.Offer, entries));
  }
  const present = (seq: number, credentials: string) => request(AUTH_ACTION, seq, text.encode(credentials));
  /** The responses in `b`: seq, flag and body (msg, or the error string). */
  function responses(b: Uint8Array) {
    const out: { seq: number; flag: number; body: Uint8Array }[] = [];
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let at = 0; at + 20 <= b.length; ) {
      const flag = b[at + 3]!;
      const msgLen = v.getUint32(at + 4, true);
      const blobLen = v.getInt32(at + 16, true);
      const len = flag === 0 ? msgLen + blobLen : flag === 2 ? blobLen : 0;
      out.push({ seq: Number(v.getBigUint64(at + 8, true)), flag, body: b.subarray(at + 20, at + 20 + len) });
      at += 20 + len;
    }
    return out;
  }
  const bodies = (peer: ReturnType<typeof rawPeer>) => responses(new Uint8Array(peer.received()));
  const textOf = (r: { body: Uint8Array } | undefined) => utf8.decode(r!.body);

  it('a razor v1 request to a server requiring auth is answered with a readable rpc_unauthenticated', async () => {
    const s = await authServer(tcp);
    const peer = rawPeer(s.address, cleanup);
    peer.send(request(1, 1));
    await waitFor(() => bodies(peer).length === 1);
    const [r] = bodies(peer);
    expect(r!.flag).toBe(2);
    expect(textOf(r)).toMatch(/^rpc_unauthenticated:this server requires authentication/);
    expect(s.seen.dispatched).toBe(0);
  });

  it('answers an offer of auth at once, asking for the credentials; refuses calls pipelined before the hook accepts them', async () => {
    const verdict = deferred<{ principal: unknown }>();
    const s = await authServer(tcp, { authenticate: () => verdict.promise });
    const peer = rawPeer(s.address, cleanup);
    peer.send(new Uint8Array([...helloFrame(true), ...present(1, 'anything'), ...request(1, 2), ...request(1, 3)]));
    await waitFor(() => bodies(peer).length === 3);
    const [answer, ...refused] = bodies(peer);
    expect([answer!.seq, answer!.flag]).toEqual([0, 0]);
    expect(findEntry(decodeHello(answer!.body, 0, answer!.body.length), HelloKind.Auth)).toEqual(new Uint8Array(0));
    expect(refused.map((r) => [r.seq, r.flag, textOf(r)])).toEqual([
      [2, 2, 'rpc_unauthenticated:call sent before authentication completed'],
      [3, 2, 'rpc_unauthenticated:call sent before authentication completed'],
    ]);
    expect(s.seen.dispatched).toBe(0);
    verdict.resolve({ principal: { name: 'late' } });
    await waitFor(() => bodies(peer).length === 4);
    expect(bodies(peer)[3]).toMatchObject({ seq: 1, flag: 0, body: encodeGrant(undefined) });
    peer.send(request(1, 4));
    await waitFor(() => bodies(peer).length === 5);
    expect(textOf(bodies(peer)[4])).toBe('late');
    expect(s.seen.dispatched).toBe(1);
  });

  it('refuses calls once the grant expires, until a renewal is accepted', async () => {
    const clock = new ManualClock();
    const s = await authServer(tcp, { clock, authenticate: ({ text }) => ({ principal: { name: text }, expiresInMs: 1000 }) });
    const peer = rawPeer(s.address, cleanup);
    peer.send(new Uint8Array([...helloFrame(true), ...present(1, 'first')]));
    await waitFor(() => bodies(peer).length === 2);
    expect(bodies(peer)[1]).toMatchObject({ seq: 1, flag: 0, body: encodeGrant(1000) });
    clock.advance(999);
    peer.send(request(1, 2));
    await waitFor(() => bodies(peer).length === 3);
    expect(textOf(bodies(peer)[2])).toBe('first');
    clock.advance(1);
    peer.send(request(1, 3));
    await waitFor(() => bodies(peer).length === 4);
    expect(textOf(bodies(peer)[3])).toBe('rpc_unauthenticated:credentials expired');
    peer.send(present(4, 'second'));
    await waitFor(() => bodies(peer).length === 5);
    expect(bodies(peer)[4]).toMatchObject({ seq: 4, flag: 0, body: encodeGrant(1000) });
    expect(new Uint8Array(peer.received()).subarray(-24)).toEqual(golden.grant);
    expect(s.seen.hookCalls.map((r) => r.renewal)).toEqual([false, true]);
    peer.send(request(1, 5));
    await waitFor(() => bodies(peer).length === 6);
    expect(textOf(bodies(peer)[5])).toBe('second');
    expect(s.seen.dispatched).toBe(2);
  });

  it('runs one hook at a time per connection: credentials flooded behind some under way are refused at once', async () => {
    const verdict = deferred<{ principal: unknown }>();
    const s = await authServer(tcp, { authenticate: (req) => (req.renewal ? verdict.promise : { principal: { name: 'first' } }) });
    const peer = rawPeer(s.address, cleanup);
    peer.send(new Uint8Array([...helloFrame(true), ...present(1, 'first')]));
    await waitFor(() => bodies(peer).length === 2);
    const renewals = Array.from({ length: 100 }, (_, i) => present(10 + i, 'again'));
    peer.send(new Uint8Array(renewals.flatMap((f) => [...f])));
    await waitFor(() => bodies(peer).length === 101);
    expect(bodies(peer).slice(2).map(textOf)).toEqual(
      Array.from({ length: 99 }, () => 'rpc_unauthenticated:credentials sent while others were being checked'),
    );
    expect(s.seen.hookCalls).toHaveLength(2);
    verdict.resolve({ principal: { name: 'renewed' } });
    await waitFor(() => bodies(peer).length === 102);
    expect(bodies(peer)[101]).toMatchObject({ seq: 10, flag: 0 });
    peer.send(request(1, 200));
    await waitFor(() => bodies(peer).length === 103);
    expect(textOf(bodies(peer)[102])).toBe('renewed');
  });

  it('refuses the first credentials with the hook\'s error and ends the connection; nothing more runs the hook', async () => {
    const s = await authServer(tcp);
    const peer = rawPeer(s.address, cleanup);
    peer.send(new Uint8Array([...helloFrame(true), ...present(1, 'banned-eve'), ...present(2, 'good-eve'), ...request(1, 3)]));
    const all = responses(new Uint8Array(await peer.closed));
    // Frames 2 and 3 arrive (in the same read) while the hook runs, so their answers leave first.
    expect(all.slice(1).map((r) => [r.seq, textOf(r)]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [1, 'rpc_permission_denied:this account may not call'],
      [2, 'rpc_unauthenticated:credentials sent while others were being checked'],
      [3, 'rpc_unauthenticated:call sent before authentication completed'],
    ]);
    expect(s.seen.hookCalls).toHaveLength(1);
    expect(s.seen.dispatched).toBe(0);
  });

  it('after refusing the first credentials, runs no hook and no call on that connection, even behind a new hello', async () => {
    const s = await authServer(tcp);
    // Half-open: it keeps sending after the server ended its side, as a hostile peer may.
    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    peer.write(new Uint8Array([...helloFrame(true), ...present(1, 'wrong')]));
    await peer.closedByPeer;
    peer.write(new Uint8Array([...helloFrame(true), ...present(2, 'good-mallory'), ...request(1, 3)]));
    // The hook runs inside `present` (if at all), before the call behind it is refused and logged.
    await waitFor(() => s.logger.lines.some((l) => l.msg === 'unauthenticated call refused'), { what: 'the call refused' });
    expect(s.seen.hookCalls.map((r) => r.text)).toEqual(['wrong']);
    expect(s.seen.dispatched).toBe(0);
  });

  it('encodes the auth entry, the credentials request and the grant as docs/protocol.md says', () => {
    expect(encodeHello(HelloRole.Offer, [AUTH_ENTRY]).subarray(2)).toEqual(golden.authEntry);
    expect(present(3, 'second')).toEqual(golden.credentials);
    expect(encodeGrant(60_000)).toEqual(fromHex('60ea0000'));
    expect(encodeGrant(undefined)).toEqual(fromHex('00000000'));
    expect(encodeGrant(0.2)).toEqual(fromHex('01000000'));
  });
});

describe('credentials go only to a server that asks for them', () => {
  const TOKEN = 'good-secret-token-7f3a';
  const holds = (b: Uint8Array) => Buffer.from(b).includes(TOKEN);

  it('a razor v1 server (the hello answered rpc_decode) never receives them, and calls work as v1', async () => {
    const frames: Uint8Array[] = [];
    const listener = await tcp.listen(parseAddress('127.0.0.1:0'), requestFrameSpec(DEFAULT_LIMITS), (conn) => {
      conn.bind({
        frame: (bytes, start, end) => {
          const frame = bytes.slice(start, end);
          frames.push(frame);
          const h = readRequestHeader(frame);
          if (h.action === HELLO_ACTION) return conn.write(errorStringFrame(h.seq, 'rpc_decode'));
          const reply = new Uint8Array(20);
          reply.set(fromHex('254d 01 00 00000000'));
          new DataView(reply.buffer).setUint32(8, h.seq, true);
          conn.write(reply);
        },
        drain: () => {},
        close: () => {},
      });
    });
    cleanup.push(() => listener.close());
    const { port } = listener.address as { port: number };
    const stream = await ClientStream.connect({ transport: tcp, address: `127.0.0.1:${port}`, credentials: TOKEN, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    await stream.call(1);
    expect(frames.length).toBe(2);
    expect(frames.some(holds)).toBe(false);
  });

  it('a Skein server without an authenticate hook never receives them', async () => {
    const recorded = recordingTransport();
    const server = new RpcServer({ dispatch: createRouter({ 1: (req) => text.encode(String(req.principal)) }) });
    cleanup.push(() => server.close());
    const a = (await server.listen(tcp, '127.0.0.1:0')) as { port: number };
    const stream = await ClientStream.connect({ transport: recorded.transport, address: `127.0.0.1:${a.port}`, credentials: TOKEN, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    expect(utf8.decode((await stream.call(1)).msg)).toBe('undefined');
    expect(recorded.writes.length).toBeGreaterThan(0);
    expect(recorded.writes.some(holds)).toBe(false);
  });

  it('a server that authenticates receives them', async () => {
    const recorded = recordingTransport();
    const s = await authServer(tcp);
    const stream = await ClientStream.connect({ transport: recorded.transport, address: s.address, credentials: TOKEN, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    expect(utf8.decode((await stream.call(1)).msg)).toBe('secret-token-7f3a');
    expect(recorded.writes.some(holds)).toBe(true);
  });
});

/** A pool on a manual clock (its backoff's next attempt comes only when the test advances it) whose credentials the server judges. */
async function poolOnClock(credentials: string, connectBudgetMs: number) {
  const s = await authServer(tcp);
  const clock = new ManualClock();
  const pool = new ConnPool({ transport: tcp, address: s.address, clock, connectBudgetMs, stream: { credentials, keepaliveMs: 0 } });
  cleanup.push(() => pool.destroy());
  return { s, clock, pool };
}

describe('auth across reconnects and options', () => {
  it('a pool with refused credentials fails its waiting calls with the refusal, not Unreachable later', async () => {
    const s = await authServer(tcp);
    const pool = new ConnPool({ transport: tcp, address: s.address, stream: { credentials: 'nonsense', keepaliveMs: 0 } });
    cleanup.push(() => pool.destroy());
    await expect(pool.call(1)).rejects.toMatchObject({ code: ErrorCode.Unauthenticated, message: expect.stringMatching(/credentials refused/) });
    expect(s.seen.dispatched).toBe(0);
  });

  it('a pool whose last connect had its credentials refused fails later calls at once with that refusal, in backoff and past the budget, until new credentials connect', async () => {
    const { s, clock, pool } = await poolOnClock('banned-eve', 1000);
    const first = (await within(pool.call(1).catch((e: unknown) => e), 10_000, 'the first call')) as RpcError;
    expect(first).toMatchObject({ code: ErrorCode.PermissionDenied, message: expect.stringMatching(/may not call/) });
    const same = { code: first.code, message: first.message, retry: first.retry };
    // In backoff, before the budget: at once, with no connect of its own (it waited for the next attempt).
    const judged = s.seen.hookCalls.length;
    await expect(within(pool.call(1), 10_000, 'a call in backoff')).rejects.toMatchObject(same);
    expect(s.seen.hookCalls).toHaveLength(judged);
    // Past the budget, with attempts refused meanwhile: the same refusal, not Unreachable.
    clock.advance(2000);
    await waitFor(() => s.seen.hookCalls.length > judged && pool.state === 'backoff', { what: 'another attempt refused' });
    await expect(within(pool.call(1), 10_000, 'a call past the budget')).rejects.toMatchObject(same);
    // New credentials: once a connect presents them, calls go through.
    await pool.renewCredentials('good-ada');
    await waitFor(() => (clock.advance(1000), pool.state === 'ready'), { what: 'a connect with the new credentials' });
    expect(utf8.decode((await within(pool.call(1), 10_000, 'the call after the renewal')).msg)).toBe('ada');
    expect(s.seen.dispatched).toBe(1);
  });

  it('a pool given new credentials after a refusal sends a call made meanwhile on the connect that presents them, not failing it with the old refusal', async () => {
    const { clock, pool } = await poolOnClock('nonsense', 60_000);
    await expect(within(pool.call(1), 10_000, 'the first call')).rejects.toMatchObject({ code: ErrorCode.Unauthenticated });
    await pool.renewCredentials('good-ada');
    const after = pool.call(1);
    await waitFor(() => (clock.advance(1000), pool.state === 'ready'), { what: 'a connect with the new credentials' });
    expect(utf8.decode((await within(after, 10_000, 'the call made after the renewal')).msg)).toBe('ada');
  });

  it('a pool given new credentials once its outage outlasted the connect budget sends a call made then on a connect made at once with them, not failing it Unreachable', async () => {
    const { s, clock, pool } = await poolOnClock('nonsense', 1000);
    await expect(within(pool.call(1), 10_000, 'the first call')).rejects.toMatchObject({ code: ErrorCode.Unauthenticated });
    const judged = s.seen.hookCalls.length;
    clock.advance(2000);
    await waitFor(() => s.seen.hookCalls.length > judged && pool.state === 'backoff', { what: 'another attempt refused' });
    await pool.renewCredentials('good-ada');
    // The clock stays: no backoff delay passes, and the budget, spent on the old credentials, starts over.
    expect(utf8.decode((await within(pool.call(1), 10_000, 'the call made after the renewal')).msg)).toBe('ada');
    expect(s.seen.dispatched).toBe(1);
  });

  it('a pool whose connect under way has its credentials refused after they were renewed connects again at once with the new ones: the calls waiting are sent, not failed', async () => {
    // The first judgement (of the old credentials) is held until the renewal is done.
    const verdict = deferred<void>();
    cleanup.push(() => verdict.resolve());
    const s = await authServer(tcp, { authenticate: async (req) => (req.text === 'nonsense' && (await verdict.promise), tokens(req)) });
    const clock = new ManualClock();
    const pool = new ConnPool({ transport: tcp, address: s.address, clock, stream: { credentials: 'nonsense', keepaliveMs: 0 } });
    cleanup.push(() => pool.destroy());
    const before = pool.call(1);
    await waitFor(() => s.seen.hookCalls.length === 1, { what: 'the old credentials presented' });
    await pool.renewCredentials('good-ada');
    const after = pool.call(1);
    verdict.resolve();
    const replies = await within(Promise.all([before, after]), 10_000, 'both calls');
    expect(replies.map((r) => utf8.decode(r.msg))).toEqual(['ada', 'ada']);
    expect(s.seen.hookCalls.map((r) => r.text)).toEqual(['nonsense', 'good-ada']);
  });

  it('a pool presents credentials on every connection it opens', async () => {
    const s = await authServer(tcp);
    const pool = new ConnPool({ transport: tcp, address: s.address, stream: { credentials: 'good-pool', keepaliveMs: 0 } });
    cleanup.push(() => pool.destroy());
    expect(utf8.decode((await pool.call(1)).msg)).toBe('pool');
  });

  it('a stream closes gracefully once its grant runs out with every renewal refused', async () => {
    const clock = new ManualClock();
    const s = await authServer(tcp, {
      clock,
      authenticate: (req) => (req.renewal ? undefined : { principal: { name: 'short' }, expiresInMs: 1000 }),
    });
    const logger = memoryLogger();
    const stream = await ClientStream.connect({ transport: tcp, address: s.address, credentials: 'x', clock, logger, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    for (let t = 0; t < 3000 && stream.state === 'open'; t += 50) {
      clock.advance(50);
      await stream.ping().catch(() => {});
    }
    expect(stream.state).not.toBe('open');
    expect(logger.lines.filter((l) => l.msg === 'credentials renewal failed').length).toBeGreaterThanOrEqual(2);
  });

  it('a stream closes gracefully when its grant runs out while a renewal is still being judged', async () => {
    const clock = new ManualClock();
    const verdict = deferred<{ principal: unknown }>();
    const s = await authServer(tcp, {
      clock,
      authTimeoutMs: 60_000,
      authenticate: (req) => (req.renewal ? verdict.promise : { principal: { name: 'short' }, expiresInMs: 1000 }),
    });
    const stream = await ClientStream.connect({ transport: tcp, address: s.address, credentials: 'x', clock, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    clock.advance(750);
    await waitFor(() => s.seen.hookCalls.length === 2, { what: 'the renewal with the hook' });
    clock.advance(250);
    // The server now refuses calls (credentials expired): new ones fail Closed here, which a pool retries elsewhere.
    await expect(stream.call(1)).rejects.toMatchObject({ code: ErrorCode.Closed });
    expect(s.seen.dispatched).toBe(0);
  });

  it('a pool sends new calls on a fresh connection once a grant runs out on one that still carries a call', async () => {
    // The expired connection closes gracefully, and stays open while its long call runs: the
    // pool must not keep picking it (each call would fail Closed, unsent) for all that time.
    const clock = new ManualClock();
    const long = deferred<Uint8Array>();
    const started = deferred<void>();
    const s = await authServer(tcp, {
      clock,
      authenticate: (req) => (req.renewal ? undefined : { principal: { name: 'short' }, expiresInMs: 1000 }),
      dispatch: createRouter({ long: () => (started.resolve(), long.promise), quick: () => text.encode('quick') }),
    });
    const pool = new ConnPool({ transport: tcp, address: s.address, clock, stream: { credentials: 'x', keepaliveMs: 0 } });
    cleanup.push(() => pool.destroy());
    const first = pool.call('long');
    await started.promise;
    for (let t = 0; t < 1500; t += 50) {
      clock.advance(50); // the renewals (refused), then the grant's end
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(pool.connections).toBe(1);
    const quick = await pool.call('quick').catch((e: unknown) => e);
    expect(quick).not.toBeInstanceOf(RpcError);
    expect(utf8.decode((quick as { msg: Uint8Array }).msg)).toBe('quick');
    long.resolve(text.encode('long'));
    expect(utf8.decode((await first).msg)).toBe('long'); // the old connection's call finished there
  });

  it("a stream's grant ends by its own clock no later than the server's, however late the grant's answer came", async () => {
    // The server's grant starts when it judged the credentials, after they were sent; counted
    // from when the answer arrived, the client's outlived it by the time the answer took, and
    // calls sent then were refused "credentials expired" (never retried: they had not run).
    const clock = new ManualClock();
    const s = await authServer(tcp, {
      clock,
      authenticate: (req) => (s.seen.hookCalls.length <= 2 ? { principal: { name: 'short' }, expiresInMs: 1000 } : undefined),
    });
    const relay = await startTcpRelay(s.address);
    cleanup.push(() => relay.close());
    const stream = await ClientStream.connect({ transport: tcp, address: relay.address, credentials: 'x', clock, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    relay.hold(); // the renewal's answer comes back late
    clock.advance(750); // the renewal is due (0.75 of the grant): sent at 750, granted until 1750
    await waitFor(() => s.seen.hookCalls.length === 2, { what: 'the renewal judged' });
    clock.advance(150);
    relay.release(); // the grant arrives at 900
    await stream.ping();
    // The next renewal is refused; the server's grant ends at 1750.
    for (let t = 900; t < 1760; t += 10) {
      clock.advance(10);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const err = await stream.call(1).then(() => undefined, (e: unknown) => e);
    // Ended here first: Closed, unsent (a pool sends it on a fresh connection), never the server's refusal.
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    expect(s.seen.dispatched).toBe(0);
  });

  it("a stream whose expiry timer is late (its event loop blocked past the margin) sends no call past its grant's end", async () => {
    // Review of 1b7df0c: ending a twentieth sooner covers a timer late by at most ttl/20 (15 ms
    // for a 300 ms grant, 1 s at most). A call made right after a longer synchronous burst,
    // before the timers run, went out all the same and was refused "credentials expired"
    // (Unauthenticated, never retried), which the stream meant to prevent. Two clocks: the
    // server's ran (its grant ended), the client's was stalled (its alarm has not fired).
    const serverClock = new ManualClock();
    const clientClock = new ManualClock();
    const s = await authServer(tcp, { clock: serverClock, authenticate: () => ({ principal: { name: 'short' }, expiresInMs: 1000 }) });
    const stream = await ClientStream.connect({ transport: tcp, address: s.address, credentials: 'x', clock: clientClock, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    expect(utf8.decode((await stream.call(1)).msg)).toBe('short');
    serverClock.advance(1100); // the server's grant ran out
    clientClock.stall(1100); // the client's loop was blocked over its grant's end: no timer ran
    const err = await stream.call(1).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    expect(s.seen.dispatched).toBe(1);
  });

  it("a stream whose expiry timer is late opens no streaming call past its grant's end either", async () => {
    const serverClock = new ManualClock();
    const clientClock = new ManualClock();
    const s = await authServer(tcp, { clock: serverClock, authenticate: () => ({ principal: { name: 'short' }, expiresInMs: 1000 }) });
    const stream = await ClientStream.connect({ transport: tcp, address: s.address, credentials: 'x', clock: clientClock, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    serverClock.advance(1100); // the server's grant ran out
    clientClock.stall(1100); // the client's alarm has not fired
    const err = await stream.openStream(1).result.then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
  });

  describe('a call waiting for the window when the grant runs out', () => {
    /** A server granting 1000 ms and refusing renewals; `long` holds its slot until released. */
    async function windowServer(clock: ManualClock) {
      const long = deferred<Uint8Array>();
      const started = deferred<void>();
      const ran: string[] = [];
      const s = await authServer(tcp, {
        clock,
        authenticate: (req) => (req.renewal ? undefined : { principal: { name: 'short' }, expiresInMs: 1000 }),
        dispatch: createRouter({ long: () => (ran.push('long'), started.resolve(), long.promise), quick: () => (ran.push('quick'), text.encode('quick')) }),
      });
      return { ...s, long, started, ran };
    }

    it('is not sent once its alarm closed the stream: it fails Closed, unsent, as a new call then does', async () => {
      // The window's wait was not checked against the grant: the call went out when the long
      // one answered, after the grant's end, and was refused "credentials expired" (never retried).
      const clock = new ManualClock();
      const s = await windowServer(clock);
      const stream = await ClientStream.connect({ transport: tcp, address: s.address, credentials: 'x', clock, keepaliveMs: 0, window: 1 });
      cleanup.push(() => stream.destroy());
      const first = stream.call('long');
      await s.started.promise;
      const waiting = stream.call('quick').then(() => undefined, (e: unknown) => e);
      expect(stream.queued).toBe(1);
      for (let t = 0; t < 1100; t += 50) {
        clock.advance(50); // the renewal (refused), then the grant's end here and on the server
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      expect(stream.state).toBe('closing');
      const fresh = await stream.call('quick').then(() => undefined, (e: unknown) => e);
      s.long.resolve(text.encode('long'));
      expect(utf8.decode((await first).msg)).toBe('long');
      const err = await waiting;
      expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
      expect(err).toMatchObject({ code: (fresh as RpcError).code, retry: (fresh as RpcError).retry });
      expect(s.ran).toEqual(['long']);
      await stream.closed(); // nothing left: the graceful close completes
    });

    it('is not sent when its alarm is late (the loop was blocked past the grant): it fails Closed, unsent', async () => {
      const serverClock = new ManualClock();
      const clientClock = new ManualClock();
      const s = await windowServer(serverClock);
      const stream = await ClientStream.connect({ transport: tcp, address: s.address, credentials: 'x', clock: clientClock, keepaliveMs: 0, window: 1 });
      cleanup.push(() => stream.destroy());
      const first = stream.call('long');
      await s.started.promise;
      const waiting = stream.call('quick').then(() => undefined, (e: unknown) => e);
      serverClock.advance(1100); // the server's grant ran out
      clientClock.stall(1100); // the client's alarm has not fired
      s.long.resolve(text.encode('long'));
      expect(utf8.decode((await first).msg)).toBe('long');
      expect(await waiting).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
      expect(s.ran).toEqual(['long']);
    });

    it('still goes under a grant renewed meanwhile', async () => {
      const clock = new ManualClock();
      const long = deferred<Uint8Array>();
      const started = deferred<void>();
      const s = await authServer(tcp, {
        clock,
        authenticate: () => ({ principal: { name: 'renewed' }, expiresInMs: 1000 }),
        dispatch: createRouter({ long: () => (started.resolve(), long.promise), quick: () => text.encode('quick') }),
      });
      const stream = await ClientStream.connect({ transport: tcp, address: s.address, credentials: 'x', clock, keepaliveMs: 0, window: 1 });
      cleanup.push(() => stream.destroy());
      const first = stream.call('long');
      await started.promise;
      const waiting = stream.call('quick');
      for (let t = 0; t < 1100; t += 50) {
        clock.advance(50); // renewed at 750: the grant now ends at 1750
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      long.resolve(text.encode('long'));
      await first;
      expect(utf8.decode((await waiting).msg)).toBe('quick');
      expect(stream.state).toBe('open');
    });
  });

  it('a renewal granted without expiry leaves nothing due: no renewal later', async () => {
    const clock = new ManualClock();
    const s = await authServer(tcp, {
      clock,
      authenticate: (req) => ({ principal: { name: req.renewal ? 'forever' : 'short' }, ...(!req.renewal && { expiresInMs: 1000 }) }),
    });
    const stream = await ClientStream.connect({ transport: tcp, address: s.address, credentials: 'x', clock, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    await stream.renewCredentials();
    clock.advance(5000);
    // A renewal due now would be sent once its credentials are fetched (microtasks), before this call.
    await new Promise((resolve) => setImmediate(resolve));
    expect(utf8.decode((await stream.call(1)).msg)).toBe('forever');
    expect(s.seen.hookCalls.map((r) => r.renewal)).toEqual([false, true]);
    expect(stream.state).toBe('open');
  });

  it.each<[Partial<RpcServerOptions>, RegExp]>([
    [{ requireAuth: true }, /requireAuth needs an authenticate hook/],
    [{ authenticate: 'yes' as never }, /authenticate must be a function/],
    [{ authenticate: tokens, requireAuth: 1 as never }, /requireAuth must be a boolean/],
    [{ authenticate: tokens, authTimeoutMs: 0 }, /authTimeoutMs must be a number of milliseconds/],
  ])('server options %o are checked', (opts, message) => {
    expect(() => new RpcServer({ dispatch: createRouter({}), ...opts })).toThrow(message);
  });

  it('client credentials are checked before connecting', async () => {
    await expect(ClientStream.connect({ transport: tcp, address: '127.0.0.1:1', credentials: 42 as never })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: expect.stringMatching(/credentials must be a string, a Uint8Array or a function/),
    });
    await expect(ClientStream.connect({ transport: tcp, address: '127.0.0.1:1', credentials: 'x'.repeat(70_000) })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    await expect(ClientStream.connect({ transport: tcp, address: '127.0.0.1:1', credentials: 'x', limits: { maxMessage: 512 } })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: expect.stringMatching(/credentials need limits/),
    });
    expect(() => new ConnPool({ transport: tcp, address: '127.0.0.1:1', stream: { credentials: 7 as never } })).toThrow(/stream.credentials must be/);
  });
});

describe('credential renewal on pools', () => {
  const name = (req: { principal?: unknown }) => text.encode((req.principal as { name: string }).name);
  /** An auth server whose action 2 holds its calls until `gate` opens: calls pile up, and the pool grows. */
  async function gatedServer(hook: Authenticate = tokens) {
    const gate = deferred();
    const s = await authServer(tcp, {
      authenticate: hook,
      dispatch: createRouter({ 1: name, 2: async (req) => (await gate.promise, name(req)) }),
    });
    return { ...s, gate };
  }
  const namesOf = async (caller: { call(a: number): Promise<{ msg: Uint8Array }> }, n: number) =>
    new Set(await Promise.all(Array.from({ length: n }, async () => utf8.decode((await caller.call(1)).msg))));

  it('a ConnPool renews on its open connections, and connections it opens later present the new credentials', async () => {
    const s = await gatedServer();
    const pool = new ConnPool({ transport: tcp, address: s.address, maxConnections: 2, stream: { credentials: 'good-old', window: 1, keepaliveMs: 0 } });
    cleanup.push(() => pool.destroy());
    expect(utf8.decode((await pool.call(1)).msg)).toBe('old');

    await pool.renewCredentials('good-new');
    expect(s.seen.hookCalls.map((r) => [r.text, r.renewal])).toEqual([['good-old', false], ['good-new', true]]);
    // Two held calls fill the one connection's window of 1: the pool opens a second connection.
    const held = [pool.call(2), pool.call(2)];
    await waitFor(() => s.server.connections === 2, { what: 'a second connection' });
    await waitFor(() => s.seen.hookCalls.length === 3, { what: 'its credentials' });
    expect(s.seen.hookCalls[2]).toMatchObject({ text: 'good-new', renewal: false });
    s.gate.resolve();
    expect(new Set(await Promise.all(held.map(async (r) => utf8.decode((await r).msg))))).toEqual(new Set(['new']));
    expect(await namesOf(pool, 8)).toEqual(new Set(['new']));
  });

  it('a ConnPool renews a connection whose connect was under way with the credentials of before', async () => {
    const open = deferred();
    const s = await gatedServer(async (req) => {
      if (req.text === 'good-slow') await open.promise;
      return tokens(req);
    });
    const pool = new ConnPool({ transport: tcp, address: s.address, stream: { credentials: 'good-slow', keepaliveMs: 0 } });
    cleanup.push(() => pool.destroy());
    const first = pool.call(1);
    await waitFor(() => s.seen.hookCalls.length === 1, { what: 'the first credentials at the hook' });
    // No connection is open yet: nothing to renew now, but the one being opened presents the old ones.
    await pool.renewCredentials('good-new');
    open.resolve();
    await first;
    await waitFor(() => s.seen.hookCalls.length === 2, { what: 'the late renewal' });
    expect(s.seen.hookCalls[1]).toMatchObject({ text: 'good-new', renewal: true, current: { name: 'slow' } });
    await waitFor(async () => utf8.decode((await pool.call(1)).msg) === 'new', { what: 'the new principal' });
  });

  it('a FailoverPool renews on every server, and servers it connects to later get the new credentials', async () => {
    const a = await gatedServer();
    const b = await gatedServer();
    const pool = new FailoverPool({ transport: tcp, servers: [a.address], pool: { stream: { credentials: 'good-old', keepaliveMs: 0 } } });
    cleanup.push(() => pool.close());
    expect(utf8.decode((await pool.call(1)).msg)).toBe('old');

    await pool.renewCredentials('good-new');
    expect(a.seen.hookCalls.map((r) => [r.text, r.renewal])).toEqual([['good-old', false], ['good-new', true]]);
    expect(await namesOf(pool, 8)).toEqual(new Set(['new']));

    await pool.replace([b.address]);
    expect(await namesOf(pool, 8)).toEqual(new Set(['new']));
    expect(b.seen.hookCalls.map((r) => [r.text, r.renewal])).toEqual([['good-new', false]]);
  });

  it('refuses a renewal where it cannot be: without credentials, with bad ones, and passes on the server\'s refusal', async () => {
    const s = await gatedServer();
    const bare = new ConnPool({ transport: tcp, address: s.address });
    cleanup.push(() => bare.destroy());
    await expect(bare.renewCredentials('good-x')).rejects.toMatchObject({ code: ErrorCode.Unauthenticated, message: expect.stringMatching(/no credentials/) });
    const failover = new FailoverPool({ transport: tcp, servers: [s.address] });
    cleanup.push(() => failover.close());
    await expect(failover.renewCredentials()).rejects.toMatchObject({ code: ErrorCode.Unauthenticated, message: expect.stringMatching(/no credentials/) });

    const pool = new ConnPool({ transport: tcp, address: s.address, stream: { credentials: 'good-ada', keepaliveMs: 0 } });
    cleanup.push(() => pool.destroy());
    await expect(pool.renewCredentials(42 as never)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await pool.call(1);
    await expect(pool.renewCredentials('banned-eve')).rejects.toMatchObject({ code: ErrorCode.PermissionDenied });
    // The connection keeps the credentials it had.
    expect(utf8.decode((await pool.call(1)).msg)).toBe('ada');
  });
});
