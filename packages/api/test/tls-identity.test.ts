import { ErrorCode, RpcError, type PeerIdentity } from '@skein/core';
import { msgpackCodec } from '@skein/codec-msgpack';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { portOf, suiteCerts, cleanups, testTls } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type Filter } from '../src/index.js';

const certs = suiteCerts();

const cleanup = cleanups();

const Who = service('Who', { am: method<void, string>() });

/** Lets in only clients whose certificate names them as a SPIFFE id: a filter on `info.identity`. */
const spiffeOnly = (seen: (PeerIdentity | undefined)[]): Filter => ({
  name: 'spiffe-only',
  before(info) {
    seen.push(info.identity);
    if (!info.identity?.altNames.some((n) => n.startsWith('URI:spiffe://'))) throw new RpcError(ErrorCode.PermissionDenied, 'no SPIFFE id');
  },
});

describe('the mTLS identity in the api layer', () => {
  it('reaches ctx.identity and the server filters', async () => {
    const seen: (PeerIdentity | undefined)[] = [];
    const dispatch = createServiceDispatch({
      codec: msgpackCodec,
      filters: [spiffeOnly(seen)],
      services: [implement(Who, { am: (_arg, ctx) => ctx.identity?.subject ?? 'nobody' })],
    });
    const server = new RpcServer({ dispatch });
    cleanup.push(() => server.close());
    const { mtls, clientTls } = testTls(certs);
    const a = await server.listen(tcpTransport(nodeRuntime, { tls: mtls() }), '127.0.0.1:0');
    const address = `tls://127.0.0.1:${portOf(a)}`;
    const stream = await ClientStream.connect({ transport: tcpTransport(nodeRuntime, { tls: clientTls(certs.client) }), address });
    cleanup.push(() => stream.destroy());
    expect(await createClient(Who, stream, { codec: msgpackCodec }).am()).toBe('CN=test-client');
    expect(seen).toEqual([expect.objectContaining({ subject: 'CN=test-client', fingerprint256: expect.stringMatching(/^[0-9A-F:]+$/) })]);
  });
});
