import { ErrorCode, RpcError } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { tcpTransport } from '@skein/transport-tcp';
import { nodeRuntime } from '@skein/runtime-node';
import { suiteCerts, testTls, within, cleanups } from '@skein/test-utils';
import { kindRecordingServer } from './harness.js';
import { probationServer } from './probation-harness.js';
import { ClientStream } from '../src/index.js';

/*
 * A client the server lets in past the clients' cap, on probation in a peer's place, and sends
 * away once its hello or its credentials show it is no peer, is told why: the server answers
 * that request (the hello, or the credentials) with its refusal, `rpc_overloaded:<why>`, before
 * the connection ends. A Skein client gives it to its user: the connect fails with it
 * (credentials), or the stream closes with it, and a call on the closed stream says it, in place
 * of a bare "stream ... is closed" that gave nothing to fix the configuration by.
 */

const cleanup = cleanups();

const t = tcpTransport(nodeRuntime);
const certs = suiteCerts();
const { mtls, clientTls } = testTls(certs);

const start = () => probationServer(cleanup);

describe('a client sent away from probation', () => {
  it('whose hello offers no credentials: its stream closes with the server\'s reason, and a call then says it', async () => {
    const s = await start();
    const stream = await ClientStream.connect({ transport: t, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    const why = await within(stream.closed(), 10_000, 'the stream closed');
    expect(why).toBeInstanceOf(RpcError);
    expect(why).toMatchObject({ code: ErrorCode.Overloaded });
    expect(why!.message).toMatch(/clients\.maxConnections.*offered no credentials/);
    const call = await stream.call(1).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Unsent: safe to make on another connection or server; the server's words name the cause.
    expect(call).toMatchObject({ code: ErrorCode.Closed, retry: 'safe', cause: why });
    expect((call as RpcError).message).toMatch(/is closed: .*refused.*clients\.maxConnections/);
    expect(s.kinds).toEqual(['client']);
  });

  it('whose credentials do not make it a peer: the connect fails with the server\'s reason', async () => {
    const s = await start();
    const connecting = ClientStream.connect({ transport: t, address: s.address, keepaliveMs: 0, credentials: 'someone' });
    const err = await connecting.then(
      (stream) => (stream.destroy(), undefined),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Overloaded });
    expect((err as RpcError).message).toMatch(/clients\.maxConnections.*credentials/);
    expect(s.kinds).toEqual(['client']);
  });

  it('a call sent with the hello, before its answer, is still refused unrun (Overloaded, safe), never run', async () => {
    const s = await start();
    const stream = await ClientStream.connect({ transport: t, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    const call = await stream.call(1).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(call).toMatchObject({ retry: 'safe' });
    expect([ErrorCode.Overloaded, ErrorCode.Closed]).toContain((call as RpcError).code);
    await within(stream.closed(), 10_000, 'the stream closed');
    expect(s.kinds).toEqual(['client']);
  });

  it('whose certificate does not make it a peer (mTLS, no authenticate): its stream closes with the server\'s reason', async () => {
    // Peers are told by certificate alone; the suite's client certificate is not a peer's.
    const { server, kinds } = kindRecordingServer({ peers: { admit: (c) => c.identity?.subject === 'CN=a-peer', maxConnections: 1 } });
    const serverT = tcpTransport(nodeRuntime, { tls: mtls() });
    const { port } = (await server.listen(serverT, '127.0.0.1:0')) as { port: number };
    cleanup.push(() => server.close());
    const clientT = tcpTransport(nodeRuntime, { tls: clientTls(certs.client) });
    const connect = async () => {
      const stream = await ClientStream.connect({ transport: clientT, address: `127.0.0.1:${port}`, keepaliveMs: 0 });
      cleanup.push(() => stream.destroy());
      return stream;
    };
    await (await connect()).call(1);
    const stream = await connect();
    const why = await within(stream.closed(), 10_000, 'the stream closed');
    expect(why).toMatchObject({ code: ErrorCode.Overloaded });
    expect(why!.message).toMatch(/clients\.maxConnections.*certificate/);
    expect(why!.message).not.toMatch(/credentials/);
    await expect(stream.call(1)).rejects.toMatchObject({ code: ErrorCode.Closed, retry: 'safe', cause: why });
    expect(server.stats()).toMatchObject({ refused: 1 });
    expect(kinds).toEqual(['client']);
  });
});
