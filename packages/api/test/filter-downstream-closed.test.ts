import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { cleanups, portOf } from '@skein/test-utils';
import { ClientStream, ConnPool, RpcServer, createRouter } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service } from '../src/index.js';
import { transport } from './harness.js';

/*
 * A `before` filter that asks another service (auth, quota) and passes on its refusal: when that
 * service is draining, its unrun Closed is not this server's word. Bare, a Closed tells this
 * server's clients that it is closing: a pool retires a healthy connection, a stream stops
 * sending. It goes as a bare Overloaded: the call did not run here either.
 */

const cleanup = cleanups();
const Front = service('Front', { op: method<void, string>() });
const Auth = service('Auth', { check: method<void, void>() });

/** A's filter asks Auth through a stream whose server closed: every check fails Closed, unsent (safe). */
async function frontWithDrainedAuth() {
  const auth = new RpcServer({ dispatch: createRouter({ 'Auth.check': () => new Uint8Array() }, silentLogger) });
  const aa = await auth.listen(transport, '127.0.0.1:0');
  const authStream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(aa)}`, keepaliveMs: 0 });
  cleanup.push(() => authStream.destroy());
  await auth.close();
  await authStream.closed();
  const authClient = createClient(Auth, authStream, { codec: msgpackCodec });
  const runs = { filter: 0, handler: 0, accepted: 0 };
  const server = new RpcServer({
    dispatch: createServiceDispatch({
      codec: msgpackCodec,
      logger: silentLogger,
      filters: [{ before: async () => (runs.filter++, await authClient.check()) }],
      services: [implement(Front, { op: () => (runs.handler++, 'ran') })],
    }),
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { server, address: `127.0.0.1:${portOf(a)}`, runs };
}

describe("a before filter passing on a draining downstream's Closed", () => {
  it('answers a bare Overloaded: safe, unrun, and the stream to this server stays usable', async () => {
    const { address, runs } = await frontWithDrainedAuth();
    const stream = await ClientStream.connect({ transport, address });
    cleanup.push(() => stream.destroy());
    const front = createClient(Front, stream, { codec: msgpackCodec });
    for (let i = 0; i < 2; i++) {
      const err = (await front.op().catch((e: unknown) => e)) as RpcError;
      expect(err).toBeInstanceOf(RpcError);
      expect({ code: err.code, retry: err.retry }).toEqual({ code: ErrorCode.Overloaded, retry: 'safe' });
    }
    expect(stream.state).toBe('open');
    expect(runs).toMatchObject({ filter: 2, handler: 0 });
  });

  it("keeps a pool on its one connection: the refusal is not this server's close", async () => {
    const { server, address, runs } = await frontWithDrainedAuth();
    const pool = new ConnPool({ transport, address });
    cleanup.push(() => pool.destroy());
    const front = createClient(Front, pool, { codec: msgpackCodec });
    const err = (await front.op().catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(ErrorCode.Overloaded);
    expect(runs.handler).toBe(0);
    expect(server.openConnections()).toHaveLength(1);
  });
});
