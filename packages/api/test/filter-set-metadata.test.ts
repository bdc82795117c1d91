import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, type Codec } from '@skein/core';
import { RpcServer, type Caller, type CallOptions } from '@skein/stream';
import { cleanups, memoryLogger } from '@skein/test-utils';
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
});
