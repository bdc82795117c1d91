import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, type Codec } from '@skein/core';
import { ConnPool, FailoverPool, RpcServer, type Caller, type CallOptions } from '@skein/stream';
import { cleanups, memoryLogger, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import {
  bearerAuth,
  bearerToken,
  bidiStream,
  clientStream,
  createClient,
  createCluster,
  createServiceDispatch,
  implement,
  method,
  serverStream,
  service,
  type CallInfo,
  type Filter,
} from '../src/index.js';
import { listening, serve, transport } from './harness.js';

/*
 * A client filter's `before` sets the metadata its call sends (`info.setMetadata`): a session
 * token that rotates, a tenant, a request id, without each call site passing `{ metadata }`.
 * Before, a client filter had no way to: `info.metadata` was the server's alone.
 */

const cleanup = cleanups();
const codec: Codec = msgpackCodec;

type Entries = Record<string, string>;

/** Each method answers with the metadata its handler saw (`ctx.metadata`), as a plain object. */
const Echo = service('Echo', {
  unary: method<void, Entries>(),
  watch: serverStream<void, Entries>(),
  upload: clientStream<number, Entries>(),
  chat: bidiStream<number, Entries>(),
});

const plain = (m: Readonly<Entries>): Entries => ({ ...m });

const echo = implement(Echo, {
  unary: (_arg, ctx) => plain(ctx.metadata),
  async *watch(_arg, ctx) {
    yield plain(ctx.metadata);
  },
  async upload(xs, ctx) {
    for await (const _ of xs);
    return plain(ctx.metadata);
  },
  async *chat(xs, ctx) {
    for await (const _ of xs) yield plain(ctx.metadata);
  },
});

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A filter that sets a tenant and a fresh request id on each call. */
function tagging(): Filter {
  let n = 0;
  return {
    before(info) {
      info.setMetadata('x-tenant', 'acme');
      info.setMetadata('x-request-id', `r${++n}`);
    },
  };
}

async function echoServer() {
  const s = await serve({ codec, services: [echo] });
  cleanup.push(() => s.close());
  return s;
}

describe("a client filter's metadata", () => {
  it('reaches the server on a unary call, over the caller\'s own entries, whose object stays as it was', async () => {
    const s = await echoServer();
    const client = createClient(Echo, s.stream, { codec, filters: [tagging()] });
    // One object passed to many calls, as a caller may: the filter must write to a copy of its own.
    const shared = { 'x-caller': 'c', 'x-tenant': 'from-caller' };
    const copy = { ...shared };
    expect(await client.unary(undefined, { metadata: shared })).toEqual({ 'x-caller': 'c', 'x-tenant': 'acme', 'x-request-id': 'r1' });
    expect(await client.unary(undefined, { metadata: shared })).toEqual({ 'x-caller': 'c', 'x-tenant': 'acme', 'x-request-id': 'r2' });
    expect(await client.unary()).toEqual({ 'x-tenant': 'acme', 'x-request-id': 'r3' });
    expect(shared).toEqual(copy);
    // A frozen one (a constant) is copied too, never written.
    expect(await client.unary(undefined, { metadata: Object.freeze({ 'x-caller': 'k' }) })).toEqual({ 'x-caller': 'k', 'x-tenant': 'acme', 'x-request-id': 'r4' });
  });

  it('reaches the server on every kind of stream, whose kind entry still goes', async () => {
    const s = await echoServer();
    const client = createClient(Echo, s.stream, { codec, filters: [tagging()] });
    const shared = { 'x-caller': 'c' };
    const want = (id: string, kind: string) => ({ 'x-caller': 'c', 'x-tenant': 'acme', 'x-request-id': id, 'skein-stream': kind });
    expect(await all(await client.watch(undefined, { metadata: shared }))).toEqual([want('r1', 'server')]);
    expect(await client.upload([1, 2], { metadata: shared })).toEqual(want('r2', 'client'));
    expect(await all(await client.chat([1], { metadata: shared }))).toEqual([want('r3', 'both')]);
    expect(shared).toEqual({ 'x-caller': 'c' });
  });

  it('lets the filters after it read what one set, and set over it', async () => {
    const s = await echoServer();
    const seen: (string | undefined)[] = [];
    const second: Filter = {
      before(info) {
        seen.push(info.metadata?.['x-tenant']);
        info.setMetadata('x-tenant', `${info.metadata?.['x-tenant']}-eu`);
      },
    };
    const client = createClient(Echo, s.stream, { codec, filters: [tagging(), second] });
    expect(await client.unary()).toEqual({ 'x-tenant': 'acme-eu', 'x-request-id': 'r1' });
    expect(seen).toEqual(['acme']);
  });

  it('reaches the server through a cluster: a routed call, one to a named server and a broadcast', async () => {
    const s = await echoServer();
    const rpc = createCluster({ codec, transport, filters: [tagging()], types: { echo: { services: [Echo], servers: [{ id: 'e1', address: s.address }] } } });
    cleanup.push(() => rpc.$cluster.close());
    expect(await rpc.echo.Echo.unary(undefined, { route: 'k', metadata: { 'x-caller': 'c' } })).toEqual({ 'x-caller': 'c', 'x-tenant': 'acme', 'x-request-id': 'r1' });
    expect(await rpc.echo.$to('e1').Echo.unary()).toEqual({ 'x-tenant': 'acme', 'x-request-id': 'r2' });
    const [one] = await rpc.echo.$all.Echo.unary();
    expect(one).toMatchObject({ server: 'e1', ok: true, value: { 'x-tenant': 'acme', 'x-request-id': 'r3' } });
    expect(await all(await rpc.echo.Echo.watch())).toEqual([{ 'x-tenant': 'acme', 'x-request-id': 'r4', 'skein-stream': 'server' }]);
  });

  it("goes on a handler's forwarded call ({ ctx }) beside the call's own metadata", async () => {
    const back = await echoServer();
    const backClient = createClient(Echo, back.stream, { codec, filters: [tagging()] });
    const Front = service('Front', { relay: method<void, Entries>() });
    const front = await serve({ codec, services: [implement(Front, { relay: (_arg, ctx) => backClient.unary(undefined, { ctx, metadata: { 'x-from': ctx.metadata['x-user']! } }) })] });
    cleanup.push(() => front.close());
    const client = createClient(Front, front.stream, { codec });
    expect(await client.relay(undefined, { metadata: { 'x-user': 'ada' } })).toEqual({ 'x-from': 'ada', 'x-tenant': 'acme', 'x-request-id': 'r1' });
  });

  it("refuses a value that is no string as the metadata option's is: that call, InvalidArgument, unsent; the connection serves on", async () => {
    const s = await echoServer();
    let handled = 0;
    const counting = createClient(Echo, s.stream, { codec });
    const bad: Filter = {
      before(info) {
        if (info.metadata?.['x-bad'] !== undefined) info.setMetadata('x-n', 7 as unknown as string);
      },
    };
    const client = createClient(Echo, s.stream, { codec, filters: [bad, { before: () => void handled++ }] });
    // The words a call given that very metadata as its option gets, with no filter.
    const optionErr = (await counting.unary(undefined, { metadata: { 'x-n': 7 as unknown as string } }).catch((e: unknown) => e)) as RpcError;
    expect(optionErr).toMatchObject({ code: ErrorCode.InvalidArgument });
    const err = await client.unary(undefined, { metadata: { 'x-bad': '1' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: optionErr.message });
    expect(optionErr.message).toBe('Echo.unary: metadata: metadata x-n: value must be a string');
    const streamErr = await client.upload([1], { metadata: { 'x-bad': '1' } }).catch((e: unknown) => e);
    expect(streamErr).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('Echo.upload: metadata') });
    expect(handled).toBe(2);
    expect(await client.unary()).toEqual({});
    expect(s.stream.state).toBe('open');
  });

  it('is never made from metadata that is no record: such a call is refused before the filters, as without them', async () => {
    const s = await echoServer();
    let ran = 0;
    const client = createClient(Echo, s.stream, { codec, filters: [{ before: (info) => (ran++, info.setMetadata('x-tenant', 'acme')) }] });
    for (const metadata of [null, 'xy', ['x']] as never[]) {
      await expect(client.unary(undefined, { metadata })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Echo.unary: metadata must be an object of strings' });
      await expect(client.watch(undefined, { metadata })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Echo.watch: metadata must be an object of strings' });
    }
    expect(ran).toBe(0);
  });

  it('leaves a client without filters as it was: its options reach the Caller as the caller made them', async () => {
    const s = await echoServer();
    const sent: (CallOptions | undefined)[] = [];
    const recording: Caller = {
      get timeoutMs() {
        return s.stream.timeoutMs;
      },
      send: (action, msg, opts, done) => (sent.push(opts), s.stream.send(action, msg, opts, done)),
    } as Caller;
    const filtered = createClient(Echo, recording, { codec, filters: [tagging()] });
    const bare = createClient(Echo, recording, { codec });
    const own = { 'x-caller': 'c' };
    const opts = { metadata: own };
    // Interleaved over one carrier: what one client's filter sets is that client's calls' alone.
    expect(await filtered.unary(undefined, opts)).toEqual({ 'x-caller': 'c', 'x-tenant': 'acme', 'x-request-id': 'r1' });
    expect(await bare.unary(undefined, opts)).toEqual({ 'x-caller': 'c' });
    expect(await bare.unary()).toEqual({});
    expect(sent[1]).toBe(opts);
    expect(sent[0]).not.toBe(opts);
    expect(sent[0]!.metadata).not.toBe(own);
    expect(own).toEqual({ 'x-caller': 'c' });
  });

  it("sends the caller's own options and metadata when its filters write none: no copy is made", async () => {
    const s = await echoServer();
    const sent: (CallOptions | undefined)[] = [];
    const recording = {
      get timeoutMs() {
        return s.stream.timeoutMs;
      },
      send: (action, msg, opts, done) => (sent.push(opts), s.stream.send(action, msg, opts, done)),
    } as Caller;
    // Filters that read what the call will send, and write nothing.
    const seen: (string | undefined)[] = [];
    const reads: Filter = { before: (info) => void seen.push(info.metadata?.['x-caller']) };
    const client = createClient(Echo, recording, { codec, filters: [reads, { before() {} }] });
    const own = { 'x-caller': 'c' };
    const opts = { metadata: own };
    expect(await client.unary(undefined, opts)).toEqual({ 'x-caller': 'c' });
    expect(sent[0]).toBe(opts);
    expect(seen).toEqual(['c']);
    expect(own).toEqual({ 'x-caller': 'c' });
  });

  it('cannot be set by a server filter: its call came with the client\'s metadata (Internal, logged, the handler never runs)', async () => {
    const logger = memoryLogger();
    let handled = 0;
    const writes: Filter = { before: (info) => info.setMetadata('x', 'y') };
    const Svc = service('Svc', { m: method<void, string>() });
    const s = await serve({ codec, logger, filters: [writes], services: [implement(Svc, { m: () => (handled++, 'ran') })] });
    cleanup.push(() => s.close());
    await expect(createClient(Svc, s.stream, { codec }).m()).rejects.toMatchObject({ code: ErrorCode.Internal });
    expect(handled).toBe(0);
    expect(JSON.stringify(logger.lines.map((l) => String((l.obj.err as Error | undefined)?.message)))).toContain('Svc.m: setMetadata is for client filters');
  });

  it("taken off a server's info, still says it is for client filters, not a TypeError about `action`", async () => {
    const logger = memoryLogger();
    const destructured: Filter = { before: ({ setMetadata }) => setMetadata('x', 'y') };
    const Svc = service('Svc', { m: method<void, string>() });
    const s = await serve({ codec, logger, filters: [destructured], services: [implement(Svc, { m: () => 'ran' })] });
    cleanup.push(() => s.close());
    await expect(createClient(Svc, s.stream, { codec }).m()).rejects.toMatchObject({ code: ErrorCode.Internal });
    const messages = logger.lines.map((l) => String((l.obj.err as Error | undefined)?.message));
    expect(messages).toContain("setMetadata is for client filters; a server filter's call came with the client's metadata (info.metadata)");
  });
});

describe("a client call's own copy of its metadata", () => {
  it("is its call's, not its object's: a call given another call's info.metadata copies it, and never writes what that call sends", async () => {
    const s = await echoServer();
    const inner = createClient(Echo, s.stream, { codec, filters: [{ before: (info) => info.setMetadata('x-request-id', 'inner') }] });
    const innerSaw: Entries[] = [];
    const outer = createClient(Echo, s.stream, {
      codec,
      filters: [
        { before: (info) => info.setMetadata('x-request-id', 'outer') },
        // Passes its call's entries (a tenant, a request id) on to a call it makes first.
        { before: async (info) => void innerSaw.push(await inner.unary(undefined, { metadata: info.metadata })) },
      ],
    });
    expect(await outer.unary(undefined, { metadata: { 'x-tenant': 'acme' } })).toEqual({ 'x-tenant': 'acme', 'x-request-id': 'outer' });
    expect(innerSaw).toEqual([{ 'x-tenant': 'acme', 'x-request-id': 'inner' }]);
  });

  it('is never written once sent: a copy kept and passed to a later call stays as its call sent it', async () => {
    const s = await echoServer();
    let kept: CallInfo['metadata'];
    const keeping = createClient(Echo, s.stream, { codec, filters: [{ before: (info) => void (info.setMetadata('k', '1'), (kept = info.metadata)) }] });
    expect(await keeping.unary()).toEqual({ k: '1' });
    const rewriting = createClient(Echo, s.stream, { codec, filters: [{ before: (info) => info.setMetadata('k', '2') }] });
    expect(await rewriting.unary(undefined, { metadata: kept })).toEqual({ k: '2' });
    expect({ ...kept }).toEqual({ k: '1' });
    // Fixed when sent, as the wire has it.
    expect(Object.isFrozen(kept)).toBe(true);
  });

  it("is fixed when the call is sent: a later write (a timer a before left) is not what a pool sends once connected", async () => {
    const s = await echoServer();
    // A fresh pool: the call waits for its connection, and goes once that is up, after the write.
    const pool = new ConnPool({ transport, address: s.address });
    cleanup.push(() => pool.close());
    let after: Entries | undefined;
    const late: Filter = {
      before(info) {
        info.setMetadata('x-id', 'at-before');
        queueMicrotask(() => info.setMetadata('x-id', 'after-send'));
      },
      after: (info) => void (after = { ...info.metadata }),
    };
    expect(await createClient(Echo, pool, { codec, filters: [late] }).unary()).toEqual({ 'x-id': 'at-before' });
    // The write went to a copy of its own, that nothing sends.
    expect(after).toEqual({ 'x-id': 'after-send' });
  });

  it("is the same on every attempt of a FailoverPool's call, whatever a filter writes between them", async () => {
    const Once = service('Once', { op: method<void, void>() });
    let pending: CallInfo | undefined;
    const attempts: Entries[] = [];
    // Either server: records each attempt's metadata; the first attempt has the filter write
    // again (as a timer it left might), then is refused unrun (Overloaded) and goes to the other.
    const dispatch = {
      dispatch(req: { metadata: Readonly<Entries>; fail(code: ErrorCode): void; reply(): unknown }) {
        attempts.push({ ...req.metadata });
        if (attempts.length === 1) {
          pending!.setMetadata('x-id', 'between-attempts');
          req.fail(ErrorCode.Overloaded);
        } else req.reply();
      },
    };
    const addresses: string[] = [];
    for (let i = 0; i < 2; i++) addresses.push((await listening(new RpcServer({ dispatch }), cleanup)).address);
    const pool = new FailoverPool({ transport, servers: addresses, retryBudget: { ratio: 10 } });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const client = createClient(Once, pool, { codec, filters: [{ before: (info) => void ((pending = info), info.setMetadata('x-id', 'at-before')) }] });
    await client.op();
    expect(attempts).toEqual([{ 'x-id': 'at-before' }, { 'x-id': 'at-before' }]);
  });

  it("is never an object a filter assigned to info.metadata (readonly in the types only): that one is not written, nor frozen", async () => {
    const s = await echoServer();
    // A plain-JS filter's module-level default, meant to stay as written.
    const shared: Entries = { tenant: 'acme' };
    const assigning: Filter = { before: (info) => void ((info as { metadata: unknown }).metadata = shared) };
    const first: Filter = { before: (info) => info.setMetadata('x-request-id', 'r1') };
    const last: Filter = { before: (info) => info.setMetadata('token', 'T') };
    // Written after the assignment: a copy of the assigned object, which the call sends.
    const writing = createClient(Echo, s.stream, { codec, filters: [first, assigning, last] });
    expect(await writing.unary()).toEqual({ tenant: 'acme', token: 'T' });
    // Not written after it: the assigned object itself is sent, and left as it was, unfrozen.
    const sending = createClient(Echo, s.stream, { codec, filters: [first, assigning] });
    expect(await sending.unary()).toEqual({ tenant: 'acme' });
    expect(shared).toEqual({ tenant: 'acme' });
    expect(Object.isFrozen(shared)).toBe(false);
  });
});

describe('setMetadata called other than on its info', () => {
  const why = "setMetadata must be called as info.setMetadata(key, value), on the info the filter was given: taken off it, or on a copy of it ({ ...info }), it writes no call's metadata";

  it.each([
    ['taken off info', { before: ({ setMetadata }) => setMetadata('x-tenant', 'acme') } satisfies Filter],
    ['on a spread copy', { before: (info) => ({ ...info, extra: 1 }).setMetadata('x-tenant', 'acme') } satisfies Filter],
    ['on an object made on info', { before: (info) => (Object.create(info) as CallInfo).setMetadata('x-tenant', 'acme') } satisfies Filter],
  ])('%s fails its call with a TypeError that says how to call it, unsent, never a write lost', async (_how, filter: Filter) => {
    let handled = 0;
    const Svc = service('Svc', { m: method<void, Entries>() });
    const s = await serve({ codec, services: [implement(Svc, { m: (_arg, ctx) => (handled++, plain(ctx.metadata)) })] });
    cleanup.push(() => s.close());
    const err = await createClient(Svc, s.stream, { codec, filters: [filter] }).m().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).toMatchObject({ message: why });
    expect(handled).toBe(0);
  });
});

describe('bearerToken: the client side of bearerAuth', () => {
  const Notes = service('Notes', { mine: method<void, string>() });

  async function notesServer() {
    let handled = 0;
    const server = new RpcServer({
      dispatch: createServiceDispatch({
        codec,
        filters: [bearerAuth((token) => (token.startsWith('t-') ? { user: token.slice(2) } : undefined))],
        services: [implement(Notes, { mine: (_arg, ctx) => (handled++, `notes of ${(ctx.meta.principal as { user: string }).user}`) })],
      }),
    });
    const { connect } = await listening(server, cleanup);
    return { stream: await connect(), handled: () => handled };
  }

  it('sends the token the function gives at each call (it rotates), sync or async, and bearerAuth takes it', async () => {
    const s = await notesServer();
    let current = 't-ada';
    const notes = createClient(Notes, s.stream, { codec, filters: [bearerToken(() => current)] });
    expect(await notes.mine()).toBe('notes of ada');
    current = 't-bob';
    expect(await notes.mine()).toBe('notes of bob');
    const refreshed = createClient(Notes, s.stream, { codec, filters: [bearerToken(async () => (await Promise.resolve(), 't-cy'))] });
    expect(await refreshed.mine()).toBe('notes of cy');
    // Under another key, as a bearerAuth with that `key` reads it: this server's reads `authorization`.
    const seen: (string | undefined)[] = [];
    const look: Filter = { before: (info) => void seen.push(info.metadata?.['x-auth']) };
    const other = createClient(Notes, s.stream, { codec, filters: [bearerToken(() => 't-dee', { key: 'x-auth' }), look] });
    await expect(other.mine()).rejects.toMatchObject({ code: ErrorCode.Unauthenticated, message: expect.stringContaining("no bearer token (metadata 'authorization')") });
    expect(seen).toEqual(['Bearer t-dee']);
  });

  it('fails the call unsent, Unauthenticated, when the function gives no token', async () => {
    const s = await notesServer();
    const before = s.handled();
    const none = createClient(Notes, s.stream, { codec, filters: [bearerToken(async () => undefined as unknown as string)] });
    await expect(none.mine()).rejects.toMatchObject({ code: ErrorCode.Unauthenticated, retry: 'safe', message: 'Notes.mine: the bearer token function returned undefined, not a token' });
    expect(s.handled()).toBe(before);
  });

  it('fails the call unsent, Unauthenticated, for a token bearerAuth would refuse (whitespace in it), never saying the token', async () => {
    const s = await notesServer();
    const before = s.handled();
    // A token read from a file keeps its newline; bearerAuth reads `Bearer +(\S+) *`.
    for (const token of ['t-ada\n', ' t-ada', 't-a da', 't-ada\t', 't-ada\u00a0', '']) {
      const notes = createClient(Notes, s.stream, { codec, filters: [bearerToken(() => token)] });
      const err = (await notes.mine().catch((e: unknown) => e)) as RpcError;
      const what = token === '' ? 'an empty string' : 'a string with whitespace in it';
      expect(err).toMatchObject({ code: ErrorCode.Unauthenticated, retry: 'safe', message: `Notes.mine: the bearer token function returned ${what}, not a token` });
    }
    expect(s.handled()).toBe(before);
    expect(await createClient(Notes, s.stream, { codec, filters: [bearerToken(() => 't-ada')] }).mine()).toBe('notes of ada');
  });

  it('refuses a key no call head can carry when the filter is made, InvalidArgument, rather than failing every call', () => {
    for (const key of ['', 'k'.repeat(256), 'é'.repeat(128), 7 as unknown as string]) {
      expect(() => bearerToken(() => 't-ada', { key })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument, message: 'bearerToken: key must be a metadata key, a string of 1 to 255 bytes' }));
    }
    expect(() => bearerToken(() => 't-ada', { key: 'k'.repeat(255) })).not.toThrow();
  });
});
