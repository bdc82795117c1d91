import http from 'node:http';
import net from 'node:net';
import { ErrorCode, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { cleanups, portOf, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { transport } from './harness.js';

/*
 * Found by an audit: a client dialled to a port where no Skein server listens over its transport
 * (an HTTP server, a WebSocket Skein server, a line protocol, an echo server) failed its calls
 * with a bare "bad magic 0x5448" or "message of 2147483392 bytes exceeds 16777216": nothing said
 * that the peer is no Skein server. Now an error in the first bytes the peer sends, before any
 * frame of the protocol came, says so.
 */

const cleanup = cleanups();

/** A plain TCP server that does `answer` with each connection; its address. */
async function rawServer(answer: (s: net.Socket) => void, options: net.ServerOpts = {}): Promise<string> {
  const sockets: net.Socket[] = [];
  const server = net.createServer(options, (s) => {
    sockets.push(s);
    s.on('error', () => {});
    answer(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** What a call from a fresh TCP client (of `over`) to `address` fails with. */
async function callFails(address: string, over: Transport = transport): Promise<Error> {
  const stream = await ClientStream.connect({ transport: over, address, keepaliveMs: 0 });
  cleanup.push(() => stream.destroy());
  // Bounded well under the calls' own 20 s: each fails as the peer's first bytes arrive.
  return within(stream.call('Svc.op', new Uint8Array([1])).then(() => new Error('resolved'), (e: Error) => e), 10_000, 'the call to fail');
}

const NO_FRAME = /: the peer's first bytes \("[^"]+…"\) are no Skein frame: is it a Skein server, and does it serve the transport this client dials\?$/;

describe('a TCP client whose peer is no Skein server (over TCP) says so', () => {
  it('an HTTP server: it answered in HTTP', async () => {
    const server = http.createServer((_req, res) => res.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => (server.closeAllConnections(), server.close()));
    const err = await callFails(`127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    expect(err).toMatchObject({ code: ErrorCode.IO, message: expect.stringMatching(/lost: bad magic 0x5448: the peer answered in HTTP: is it a WebSocket server \(dial it with @skein\/transport-ws\), or no Skein server at all\?$/) });
  });

  it('a Skein server over WebSocket: the same, and its handler never runs', async () => {
    let ran = 0;
    const server = new RpcServer({ dispatch: createRouter({ 'Svc.op': () => (ran++, new Uint8Array()) }) });
    const a = await server.listen(wsTransport(), '127.0.0.1:0');
    cleanup.push(() => server.close());
    const err = await callFails(`127.0.0.1:${portOf(a)}`);
    expect(err.message).toMatch(/the peer answered in HTTP: is it a WebSocket server/);
    expect(ran).toBe(0);
  });

  it('a line protocol (a redis-like error line), and a server that speaks first (a banner)', async () => {
    const redis = await rawServer((s) => s.on('data', () => s.write('-ERR unknown command\r\n')));
    expect((await callFails(redis)).message).toMatch(new RegExp(`bad magic 0x452d${NO_FRAME.source.replace('[^"]+', '-E')}`));
    const smtp = await rawServer((s) => (s.resume(), s.write('220 mail.example.com ESMTP ready\r\n')));
    expect((await callFails(smtp)).message).toMatch(new RegExp(`bad magic 0x3232${NO_FRAME.source.replace('[^"]+', '22')}`));
  });

  it('a stranger that keeps its side open after ours ends: the call fails at once, not the transport\'s lingerMs later', async () => {
    // allowHalfOpen: our end does not end its side (a server that stops reading would not either).
    const stranger = await rawServer((s) => s.on('data', () => s.write('HTTP/1.1 400 Bad Request\r\n\r\n')), { allowHalfOpen: true });
    // A linger past the test's timeout: a client that waited for the stranger to close would time out.
    const err = await callFails(stranger, tcpTransport(nodeRuntime, { lingerMs: 60_000 }));
    expect(err).toMatchObject({ code: ErrorCode.IO, message: expect.stringMatching(/lost: bad magic 0x5448: the peer answered in HTTP: is it a WebSocket server/) });
  });

  it('an echo server: its echo of the hello is no frame of a server', async () => {
    const echo = await rawServer((s) => s.pipe(s));
    const err = await callFails(echo);
    expect(err).toMatchObject({ code: ErrorCode.IO });
    expect(err.message).toMatch(/exceeds \d+: the first bytes the peer sent are no Skein frame: is it a Skein server, and does it serve the transport this client dials\?$/);
  });

  it('says nothing of strangers once the peer has spoken the protocol', async () => {
    // Answers the hello as a razor v1 server does (an error string under seq 0), then sends bytes that do not frame.
    const answer = Buffer.alloc(20 + 10);
    answer.writeUInt16LE(0x4d25, 0);
    answer[2] = 1;
    answer[3] = 2; // an error string
    answer.writeInt32LE(10, 16);
    answer.write('rpc_decode', 20);
    const v1 = await rawServer((s) => s.once('data', () => s.write(Buffer.concat([answer, Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')]))));
    const err = await callFails(v1);
    expect(err.message).toMatch(/lost: bad magic 0x5448$/);
  });

  it('names a Skein peer of another protocol version as such, not a stranger (its magic was right)', async () => {
    const answer = Buffer.alloc(20);
    answer.writeUInt16LE(0x4d25, 0);
    answer[2] = 9;
    const future = await rawServer((s) => s.once('data', () => s.write(answer)));
    const err = await callFails(future);
    expect(err).toMatchObject({ code: ErrorCode.IO });
    expect(err.message).toMatch(/lost: unsupported version 9$/);
  });
});

describe('a WebSocket client whose server does not speak WebSocket says so', () => {
  /** What a connect of a `ws` client to `address` fails with. */
  const connectFails = (address: string): Promise<Error> =>
    within(ClientStream.connect({ transport: wsTransport(), address }).then((s) => (s.destroy(), new Error('connected')), (e: Error) => e), 10_000, 'the connect to fail');

  it('a Skein server over TCP: it closed the connection without answering the upgrade; nothing ran', async () => {
    let ran = 0;
    const server = new RpcServer({ dispatch: createRouter({ 'Svc.op': () => (ran++, new Uint8Array()) }) });
    const a = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    const err = await connectFails(`127.0.0.1:${portOf(a)}`);
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe' });
    expect(err.message).toMatch(/: socket hang up \(the server closed the connection without answering the WebSocket upgrade: .*a Skein server over TCP does so \(dial it with @skein\/transport-tcp\), and so does one at its connection limit\)$/);
    expect(ran).toBe(0);
  });

  it('a server that answers with no HTTP (a banner, an echo)', async () => {
    for (const answer of [(s: net.Socket) => s.write('SSH-2.0-OpenSSH_9.6\r\n'), (s: net.Socket) => s.pipe(s)]) {
      const err = await connectFails(await rawServer(answer));
      expect(err).toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringMatching(/\(the server answered with no HTTP: is it a Skein server over TCP \(dial it with @skein\/transport-tcp\), or no WebSocket server at all\?\)$/) });
    }
  });
});
