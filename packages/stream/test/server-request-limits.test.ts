import { ErrorCode, RpcError } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type ActionHandler, type Authenticate, type RpcServerOptions } from '../src/index.js';
import { responseFrames, transport } from './harness.js';
import { golden } from './golden.js';
import { decodeHello, findEntry } from '../src/wire/hello.js';
import { readRequestLimits } from '../src/wire/request-limits.js';
import * as net from 'node:net';

const cleanup = cleanups();

/*
 * The server's request limits, named in its hello's answer (kind 26, docs/protocol.md "The
 * hello"). Without them a Skein client checked its calls against its own `limits` only: a call
 * over the server's limits for its kind went out, was refused at its header (FrameTooLarge), and
 * the server closed the connection (trial: a 2 KiB argument against `clients: { limits: {
 * maxMessage: 1024 } }`). Now a client refuses it unsent and keeps its connection.
 */
const tokens: Authenticate = ({ text }) => ({ principal: text });
const admit = (c: { principal?: unknown }): boolean => c.principal === 'peer';
const echo: ActionHandler = (req) => req.msg;

async function start(opts: Partial<RpcServerOptions>) {
  let runs = 0;
  const table: Record<string, ActionHandler> = {
    echo: (req) => (runs++, echo(req)),
    stream: async (req) => {
      for await (const _ of req.stream!) runs++;
    },
  };
  const server = new RpcServer({ dispatch: createRouter(table), ...opts });
  cleanup.push(() => server.close());
  const a = (await server.listen(transport, '127.0.0.1:0')) as { host: string; port: number };
  const address = `${a.host}:${a.port}`;
  const connect = async (credentials?: string): Promise<ClientStream> => {
    const s = await ClientStream.connect({ transport, address, keepaliveMs: 0, ...(credentials !== undefined && { credentials }) });
    cleanup.push(() => s.destroy());
    // Answered: the limits are known from here.
    await s.call('echo');
    return s;
  };
  return { address, connect, runs: () => runs };
}

const failure = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as RpcError,
  );

/** The request limits a server's answer to the default offer names, read off the wire by a raw client. */
async function namedLimits(address: string): Promise<ReturnType<typeof readRequestLimits> | undefined> {
  const [host, port] = address.split(':');
  const sock = net.connect(Number(port), host);
  cleanup.push(() => sock.destroy());
  sock.write(golden.helloRequestFull);
  const answer = await new Promise<Buffer>((resolve) => sock.once('data', resolve));
  const body = responseFrames(new Uint8Array(answer))[0]!.body;
  const value = findEntry(decodeHello(body, 0, body.length), 26);
  return value && readRequestLimits(value);
}

describe("the server's request limits (hello kind 26)", () => {
  it("names its kind's limits to a client, and the clients' to a connection that is no peer", async () => {
    const { address } = await start({ limits: { maxAction: 512 }, clients: { limits: { maxMessage: 1024, maxBlob: 2048 } }, peers: { admit: () => false, limits: { maxMessage: 64 * 1024 } } });
    expect(await namedLimits(address)).toEqual({ maxMessage: 1024, maxBlob: 2048, maxAction: 512 });
  });

  it("names the peers' limits to a peer admitted at accept", async () => {
    const { address } = await start({ clients: { limits: { maxMessage: 1024 } }, peers: { admit: () => true, limits: { maxMessage: 64 * 1024 } } });
    expect(await namedLimits(address)).toMatchObject({ maxMessage: 64 * 1024 });
  });

  it('refuses a call over them unsent, FrameTooLarge, retry safe, and keeps the connection; the server runs nothing of it', async () => {
    const s = await start({ clients: { limits: { maxMessage: 1024, maxBlob: 2048 } } });
    const client = await s.connect();
    const before = s.runs();
    const msg = await failure(client.call('echo', new Uint8Array(2048)));
    expect({ code: msg.code, retry: msg.retry }).toEqual({ code: ErrorCode.FrameTooLarge, retry: 'safe' });
    expect(msg.message).toMatch(/^message of 2048 bytes exceeds .*'s limit of 1024 \(its hello's answer\): not sent$/);
    const blob = await failure(client.call('echo', new Uint8Array(0), { blob: new Uint8Array(4096) }));
    expect({ code: blob.code, retry: blob.retry }).toEqual({ code: ErrorCode.FrameTooLarge, retry: 'safe' });
    expect((await client.call('echo', new Uint8Array(1024))).msg.length).toBe(1024);
    expect(client.state).toBe('open');
    expect(s.runs()).toBe(before + 1);
  });

  it("refuses an action string over the server's maxAction unsent, once made before the answer too", async () => {
    const s = await start({ clients: { limits: { maxAction: 8 } } });
    const client = await ClientStream.connect({ transport, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    // Its prefix is made (and checked against the client's own 1 KiB) before the answer is in; the call fails at the server (the action is unknown).
    await failure(client.call('a-long-action'));
    const err = await failure(client.call('a-long-action'));
    expect({ code: err.code, retry: err.retry }).toEqual({ code: ErrorCode.FrameTooLarge, retry: 'safe' });
    expect(client.state).toBe('open');
  });

  it('refuses a stream item over them unsent and keeps the stream and the connection', async () => {
    const s = await start({ clients: { limits: { maxMessage: 1024 } } });
    const client = await s.connect();
    const stream = client.openStream('stream');
    const err = await failure(stream.write(new Uint8Array(2048)));
    expect(err.code).toBe(ErrorCode.FrameTooLarge);
    expect(err.message).toMatch(/^stream item's message of 2048 bytes exceeds .*'s limit of 1024 \(its hello's answer\): not sent$/);
    await stream.write(new Uint8Array(1024));
    stream.end();
    await stream.result;
    expect(client.state).toBe('open');
  });

  it("names a connection whose credentials may make it a peer the larger of both kinds' limits: a peer by them sends what peers may", async () => {
    const s = await start({ authenticate: tokens, requireAuth: false, clients: { limits: { maxMessage: 1024 } }, peers: { admit, limits: { maxMessage: 64 * 1024 } } });
    const peer = await s.connect('peer');
    expect((await peer.call('echo', new Uint8Array(4096))).msg.length).toBe(4096);
    // One they leave a client sends it too, and the server refuses it by the clients' limits; nothing behind it ran (frame-too-large-goodbye.test.ts).
    const client = await s.connect('user');
    const ran = s.runs();
    const big = failure(client.call('echo', new Uint8Array(4096)));
    const behind = failure(client.call('echo', new Uint8Array(8)));
    expect(await big).toMatchObject({ code: ErrorCode.FrameTooLarge, message: "message of 4096 bytes exceeds the server's limit of 1024" });
    const after = await behind;
    expect({ code: after.code, retry: after.retry }).toEqual({ code: ErrorCode.Closed, retry: 'safe' });
    expect(s.runs()).toBe(ran);
  });

  it("refuses unsent a call held for the answer (a deadline, metadata) once the answer names limits it is over, and keeps the connection", async () => {
    const s = await start({ clients: { limits: { maxMessage: 1024, maxAction: 8 } } });
    const client = await ClientStream.connect({ transport, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    // Made before the answer, with a head: held for it, then sent.
    const big = failure(client.call('echo', new Uint8Array(2048), { timeoutMs: 30_000 }));
    const action = failure(client.call('a-long-action', new Uint8Array(8), { metadata: { k: 'v' } }));
    const behind = client.call('echo', new Uint8Array(8), { timeoutMs: 30_000 });
    const err = await big;
    expect({ code: err.code, retry: err.retry }).toEqual({ code: ErrorCode.FrameTooLarge, retry: 'safe' });
    expect(err.message).toMatch(/^message of 2048 bytes exceeds .*'s limit of 1024 \(its hello's answer\): not sent$/);
    expect(await action).toMatchObject({ code: ErrorCode.FrameTooLarge, message: expect.stringMatching(/^action of 13 bytes exceeds .*'s limit of 8 \(its hello's answer\): not sent$/) });
    expect((await behind).msg.length).toBe(8);
    expect(client.state).toBe('open');
    expect(s.runs()).toBe(1);
  });

  it('refuses unsent a stream that waited for the answer to open over the limits it names, and keeps the connection', async () => {
    const s = await start({ clients: { limits: { maxMessage: 1024 } } });
    const client = await ClientStream.connect({ transport, address: s.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const stream = client.openStream('stream', new Uint8Array(2048));
    const err = await failure(stream.result);
    expect({ code: err.code, retry: err.retry }).toEqual({ code: ErrorCode.FrameTooLarge, retry: 'safe' });
    expect((await client.call('echo', new Uint8Array(8))).msg.length).toBe(8);
    expect(client.state).toBe('open');
  });

  it("refuses unsent a call whose head (metadata) is over the server's maxMessage, naming the metadata, and keeps the connection", async () => {
    const s = await start({ clients: { limits: { maxMessage: 1024 } } });
    const client = await s.connect();
    const ran = s.runs();
    const err = await failure(client.call('echo', new Uint8Array(8), { metadata: { k: 'x'.repeat(2000) } }));
    expect({ code: err.code, retry: err.retry }).toEqual({ code: ErrorCode.FrameTooLarge, retry: 'safe' });
    expect(err.message).toMatch(/^metadata of \d+ bytes encoded \(the call's head\) exceeds the server's limit of 1024 on a request's message \(its hello's answer\): not sent$/);
    const stream = client.openStream('stream', new Uint8Array(0), { metadata: { k: 'x'.repeat(2000) } });
    expect(await failure(stream.result)).toMatchObject({ code: ErrorCode.FrameTooLarge, retry: 'safe' });
    expect((await client.call('echo', new Uint8Array(8))).msg.length).toBe(8);
    expect(client.state).toBe('open');
    expect(s.runs()).toBe(ran + 1);
  });

  it('names a maxAction past what the wire carries (any integer is taken) as the most it carries, never wrapped: 2**32 is not 0', async () => {
    const { address, connect } = await start({ limits: { maxAction: 2 ** 32 } });
    expect(await namedLimits(address)).toMatchObject({ maxAction: 0x7fff_ffff });
    const client = await connect();
    expect((await client.call('echo', new Uint8Array(8))).msg.length).toBe(8);
  });
});
