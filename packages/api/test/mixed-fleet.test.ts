import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode } from '@skein/core';
import { RpcServer } from '@skein/stream';
import { portOf, startRazorServer, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createCluster, createServiceDispatch, implement, method, serverStream, service, type Member } from '../src/index.js';
import { transport } from './harness.js';

// A typed cluster mid-upgrade: one member still a razor v1 server (unary calls only), one Skein.

const Svc = service('Svc', {
  whoami: method<void, string>(),
  count: serverStream<number, string>(),
});

const cleanup = cleanups();

async function skeinMember(): Promise<Member> {
  const server = new RpcServer({
    dispatch: createServiceDispatch({
      codec: msgpackCodec,
      services: [
        implement(Svc, {
          whoami: () => 'skein',
          async *count(n) {
            for (let i = 0; i < n; i++) yield `skein:${i}`;
          },
        }),
      ],
    }),
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { id: 'skein', address: `127.0.0.1:${portOf(a)}` };
}

async function mixedCluster() {
  // razor's msgpack: the reply is the string "razor".
  const razor = await startRazorServer({ 'Svc.whoami': () => msgpackCodec.encode('razor') });
  cleanup.push(() => razor.close());
  const rpc = createCluster({
    codec: msgpackCodec,
    transport,
    types: { svc: { services: [Svc], servers: [{ id: 'razor', address: razor.address }, await skeinMember()], strategy: 'round-robin' } },
  });
  cleanup.push(() => rpc.$cluster.close());
  return { rpc, razor };
}

const drain = async (opened: Promise<AsyncIterable<string>>): Promise<string[]> => {
  const out: string[] = [];
  for await (const v of await opened) out.push(v);
  return out;
};

describe('a typed cluster over a razor v1 server and a Skein server', () => {
  it('takes turns for unary calls, and opens every stream of the type on the Skein member', async () => {
    const { rpc, razor } = await mixedCluster();
    const who = await Promise.all([rpc.svc.Svc.whoami(), rpc.svc.Svc.whoami(), rpc.svc.Svc.whoami(), rpc.svc.Svc.whoami()]);
    expect(new Set(who)).toEqual(new Set(['razor', 'skein']));
    for (let i = 0; i < 3; i++) expect(await drain(rpc.svc.Svc.count(2))).toEqual(['skein:0', 'skein:1']);
    expect(razor.seen.filter((q) => q.name === 'Svc.count')).toEqual([]);
  });

  it('fails a stream pinned to the v1 member ($to) with Version, saying why', async () => {
    const { rpc } = await mixedCluster();
    const err = await drain(rpc.svc.$to('razor').Svc.count(1)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Version, message: expect.stringMatching(/does not speak streams/) });
  });
});
