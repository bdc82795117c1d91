import * as net from 'node:net';
import { expect, it } from 'vitest';
import { ErrorCode, RpcError, invalidArgument } from '@skein/core';
import { ClientStream } from '../src/index.js';
import { BUILTIN_ERROR_ROOM, builtinErrorBytes } from '../src/wire/error-strings.js';
import { startServer, transport } from './harness.js';
import { cleanups } from '@skein/test-utils';

/*
 * A client configured far below any default (maxMessage of a few dozen bytes) sends no hello,
 * so the server knows nothing of its limits and answers with the wire's. An error whose detail
 * did not fit the client's maxMessage was refused by the client's frame reader as over its
 * limit: the client read "error string of N bytes exceeds limit" (IO, connection closed, every
 * call on it failed) instead of the error's code.
 */

const cleanup = cleanups<() => Promise<unknown>>();

const LONG = 'x'.repeat(2000);

async function started() {
  const s = await startServer({
    1: () => {
      throw invalidArgument(`the value is wrong: ${LONG}`);
    },
    2: (req) => req.msg,
  });
  cleanup.push(() => s.server.close());
  return s;
}

/** The header of an error-string answer (flag 2) to the request `req`, claiming `length` bytes of it. */
function errorStringHeader(req: Buffer, length: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16LE(0x4d25, 0);
  h[2] = 1;
  h[3] = 2;
  req.copy(h, 8, 8, 16);
  h.writeUInt32LE(length, 16);
  return h;
}

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as Error);

it('a client with a tiny maxMessage (no hello) reads a detailed error\'s code, and its connection goes on', async () => {
  const s = await started();
  const client = await s.connect({ limits: { maxMessage: 40 } });
  cleanup.push(() => client.close());
  const err = await failure(client.call(1, new Uint8Array([1])));
  expect(err).toBeInstanceOf(RpcError);
  expect((err as RpcError).code).toBe(ErrorCode.InvalidArgument);
  expect(err!.message).toContain('the value is wrong');
  // The connection was not closed by the answer: later calls run on it.
  expect(Array.from((await client.call(2, new Uint8Array([7]))).msg)).toEqual([7]);
});

it('a client refused as over the server\'s frame limit (no hello) reads FrameTooLarge, not a malformed frame', async () => {
  const s = await startServer({ 2: (req) => req.msg }, { limits: { maxMessage: 8 } });
  cleanup.push(() => s.server.close());
  const client = await s.connect({ limits: { maxMessage: 30 } });
  cleanup.push(() => client.close());
  const err = await failure(client.call(2, new Uint8Array(20)));
  expect(err).toBeInstanceOf(RpcError);
  expect((err as RpcError).code).toBe(ErrorCode.FrameTooLarge);
  expect(err!.message).toMatch(/exceeds the server's limit of 8/);
});

it('a client that sent a hello (limits of 1 KiB) gets a long detail cut to fit, its code kept', async () => {
  const s = await started();
  const client = await s.connect({ limits: { maxMessage: 1024, maxBlob: 1024 } });
  cleanup.push(() => client.close());
  const err = await failure(client.call(1, new Uint8Array([1])));
  expect(err).toBeInstanceOf(RpcError);
  expect((err as RpcError).code).toBe(ErrorCode.InvalidArgument);
  // Cut by the server to the limits the hello told it (the detail is 2 KiB).
  expect(err!.message).toMatch(/^the value is wrong: x+$/);
  expect(Buffer.byteLength(`rpc_invalid_argument:${err!.message}`)).toBe(1024);
  expect(Array.from((await client.call(2, new Uint8Array([7]))).msg)).toEqual([7]);
});

it('the room a client keeps for error strings holds the longest built-in error a Skein peer sends', () => {
  for (const unit of ['x', '\u20ac', '\u{1F600}', '\ud800']) {
    const detail = unit.repeat(2048);
    expect(builtinErrorBytes('rpc_'.padEnd(32, 'w'), detail).length).toBeLessThanOrEqual(BUILTIN_ERROR_ROOM);
  }
});

it('a tiny client refuses an error string longer than that room at its header, before any of it is buffered', async () => {
  // A peer that answers every call with the header of a 1 GiB error string, then 10 bytes of it
  // and nothing more: a client that waited to buffer it would never fail the call.
  const peer = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.once('data', (req: Buffer) => {
      sock.write(Buffer.concat([errorStringHeader(req, 2 ** 30), Buffer.from('rpc_io_err')]));
    });
  });
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => peer.close(resolve)));
  const client = await ClientStream.connect({ transport, address: `127.0.0.1:${(peer.address() as net.AddressInfo).port}`, keepaliveMs: 0, limits: { maxMessage: 40, maxBlob: 40 } });
  cleanup.push(async () => client.destroy());
  const err = await failure(client.call(1, new Uint8Array([1]), { timeoutMs: 5_000 }));
  expect((err as RpcError).code).toBe(ErrorCode.IO);
  expect(`${err!.message} ${(err!.cause as Error | undefined)?.message ?? ''}`).toMatch(new RegExp(`error string of ${2 ** 30} bytes exceeds ${BUILTIN_ERROR_ROOM}`));
});

it('a tiny client reads an error string longer than its limits that arrives in parts, and keeps its connection', async () => {
  const words = Buffer.from(`rpc_invalid_argument:${'y'.repeat(2000)}`);
  const peer = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.once('data', (req: Buffer) => {
      const h = errorStringHeader(req, words.length);
      // The frame cut across packets: the client assembles it (charged to its pending-frame budget).
      sock.write(Buffer.concat([h, words.subarray(0, 10)]));
      setTimeout(() => sock.write(words.subarray(10)), 20);
    });
  });
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => peer.close(resolve)));
  const client = await ClientStream.connect({ transport, address: `127.0.0.1:${(peer.address() as net.AddressInfo).port}`, keepaliveMs: 0, limits: { maxMessage: 40, maxBlob: 40 } });
  cleanup.push(async () => client.destroy());
  const err = await failure(client.call(1, new Uint8Array([1])));
  expect((err as RpcError).code).toBe(ErrorCode.InvalidArgument);
  expect(err!.message).toBe('y'.repeat(2000));
  expect(client.state).toBe('open');
});
