import { ErrorCode, RpcError } from '@skein/core';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ClientStream, RpcServer, type Authenticate } from '@skein/stream';
import { portOf, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { bearerAuth, type BearerCheck, createClient, createCluster, createServiceDispatch, implement, method, service, type Filter } from '../src/index.js';
import { transport } from './harness.js';

const cleanup = cleanups();

const Account = service('Account', {
  whoami: method<void, string>(),
  close: method<void, string>(),
});

const tokens: Authenticate = ({ text }) => (text.startsWith('token-') ? { principal: { user: text.slice(6), admin: text === 'token-root' } } : undefined);

/** Only admins may call `Account.close`: a filter that reads the principal. */
const adminsOnly: Filter = {
  name: 'admins-only',
  before(info) {
    if (info.method === 'close' && !(info.principal as { admin?: boolean } | undefined)?.admin) {
      throw new RpcError(ErrorCode.PermissionDenied, `${info.action}: admins only`);
    }
  },
};

async function serve() {
  const dispatch = createServiceDispatch({
    codec: msgpackCodec,
    filters: [adminsOnly],
    services: [
      implement(Account, {
        whoami: (_arg, ctx) => (ctx.principal as { user: string }).user,
        close: (_arg, ctx) => `closed by ${(ctx.principal as { user: string }).user}`,
      }),
    ],
  });
  const server = new RpcServer({ dispatch, authenticate: tokens });
  cleanup.push(() => server.close());
  const a = await server.listen(transport, '127.0.0.1:0');
  const address = `127.0.0.1:${portOf(a)}`;
  const client = async (credentials: string) => {
    const stream = await ClientStream.connect({ transport, address, credentials, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    return createClient(Account, stream, { codec: msgpackCodec });
  };
  return { client, address };
}

describe('the principal in the api layer', () => {
  it('reaches ctx.principal and the server filters', async () => {
    const s = await serve();
    const ada = await s.client('token-ada');
    const root = await s.client('token-root');
    expect(await ada.whoami()).toBe('ada');
    await expect(ada.close()).rejects.toMatchObject({ code: ErrorCode.PermissionDenied, message: 'Account.close: admins only' });
    expect(await root.close()).toBe('closed by root');
  });
});

describe('a cluster presents credentials', () => {
  it('on every connection of every type; a type may bring its own', async () => {
    const s = await serve();
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      credentials: () => 'token-ada',
      types: {
        users: { services: [Account], servers: [{ id: 'u1', address: s.address }] },
        admin: { services: [Account], servers: [{ id: 'a1', address: s.address }], pool: { pool: { stream: { credentials: 'token-root' } } } },
      },
    });
    cleanup.push(() => rpc.$cluster.close());
    expect(await rpc.users.Account.whoami()).toBe('ada');
    expect(await rpc.admin.Account.whoami()).toBe('root');
  });
});

describe('per-call credentials: bearerAuth', () => {
  const Notes = service('Notes', {
    mine: method<void, string>(),
    health: method<void, string>(),
  });

  /** A server whose every call but `health` needs a bearer token; `t-<user>` belongs to user, `t-mallory` may not call. */
  const tokenCheck = async (token: string) => {
    if (token === 't-mallory') throw new RpcError(ErrorCode.PermissionDenied, 'mallory is suspended');
    return token.startsWith('t-') ? { user: token.slice(2) } : undefined;
  };

  async function serveNotes(check: BearerCheck = tokenCheck) {
    let handled = 0;
    const dispatch = createServiceDispatch({
      codec: msgpackCodec,
      filters: [bearerAuth(check, { skip: (info) => info.method === 'health' })],
      services: [
        implement(Notes, {
          mine: (_arg, ctx) => (handled++, `notes of ${(ctx.meta.principal as { user: string }).user}`),
          health: () => (handled++, 'ok'),
        }),
      ],
    });
    const server = new RpcServer({ dispatch });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}`, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    const notes = createClient(Notes, stream, { codec: msgpackCodec });
    /** The client's calls, each with `metadata` (its per-call option). */
    const as = (metadata?: Record<string, string>) => ({
      mine: () => notes.mine(undefined, { metadata }),
      health: () => notes.health(undefined, { metadata }),
    });
    return { as, handled: () => handled };
  }

  it('lets a call with a good token through, its principal in ctx.meta', async () => {
    const s = await serveNotes();
    expect(await s.as({ authorization: 'Bearer t-ada' }).mine()).toBe('notes of ada');
    expect(await s.as({ authorization: 'bearer   t-bob' }).mine()).toBe('notes of bob');
  });

  it.each([
    ['no token', undefined, ErrorCode.Unauthenticated, /Notes.mine: no bearer token \(metadata 'authorization'\)/],
    ['not a bearer token', { authorization: 'Basic YWRhOnB3' }, ErrorCode.Unauthenticated, /is not 'Bearer <token>'/],
    ['a wrong token', { authorization: 'Bearer nonsense' }, ErrorCode.Unauthenticated, /Notes.mine: bearer token refused/],
    ['a token the check refuses with its own error', { authorization: 'Bearer t-mallory' }, ErrorCode.PermissionDenied, /mallory is suspended/],
  ])('refuses a call with %s before its handler runs', async (_what, metadata, code, message) => {
    const s = await serveNotes();
    const err = await s.as(metadata).mine().catch((e: unknown) => e);
    expect(err).toMatchObject({ code, message: expect.stringMatching(message), retry: 'never' });
    expect(s.handled()).toBe(0);
  });

  it('waits for a thenable check that is not a Promise (a query builder, another realm\'s promise): its refusals hold', async () => {
    // What a database query builder returns: awaitable, but not `instanceof Promise`.
    const s = await serveNotes((token) => ({ then: (ok: (v: unknown) => unknown, ko: (e: unknown) => unknown) => tokenCheck(token).then(ok, ko) }));
    expect(await s.as({ authorization: 'Bearer t-ada' }).mine()).toBe('notes of ada');
    await expect(s.as({ authorization: 'Bearer nonsense' }).mine()).rejects.toMatchObject({ code: ErrorCode.Unauthenticated, message: expect.stringMatching(/bearer token refused/) });
    await expect(s.as({ authorization: 'Bearer t-mallory' }).mine()).rejects.toMatchObject({ code: ErrorCode.PermissionDenied });
    expect(s.handled()).toBe(1);
  });

  it('lets the calls it is told to skip through without a token', async () => {
    const s = await serveNotes();
    expect(await s.as().health()).toBe('ok');
  });
});
