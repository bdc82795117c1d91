import { ErrorCode, type RpcError } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { uwsTransport } from '../src/index.js';
import { frame, rawWsPeer, startServer, text, until, wsFrameHeader } from './helpers.js';

const cleanup = cleanups();

const MiB = 1024 * 1024;
const LIMIT = MiB;

/**
 * uWebSockets.js reserves, at a WebSocket frame's header, the payload length it claims (the
 * buffer it collects a message in: `reserve(length + remainingBytes)`), before any of it
 * arrives: address space, not resident memory, and invisible to JS (measured: eight frames
 * claiming 64 MiB, 1 KiB of each sent, grew the server's VmData by 512 MiB, its RSS by 0.2 MiB,
 * its arrayBuffers and external by 0; under a 1.5 GB RLIMIT_AS the seventh aborted the process
 * with std::bad_alloc). What bounds a claim is uWS's maxPayloadLength, which the adapter sets to
 * maxWsMessageBytes: a frame claiming more is refused at its header, closing its connection alone.
 */
describe('uWebSockets.js, against WebSocket frame headers claiming payload lengths', () => {
  it('a frame claiming past maxWsMessageBytes closes its connection at the header, alone; the others are served', async () => {
    const s = await startServer(uwsTransport({ maxWsMessageBytes: LIMIT }), { echo: true });
    cleanup.push(() => s.listener.close());
    const honest = await rawWsPeer(s.port);
    cleanup.push(() => honest.destroy());
    const claims = [LIMIT + 1, 64 * MiB, 2 ** 40];
    const hostile = await Promise.all(claims.map(() => rawWsPeer(s.port)));
    for (const p of hostile) cleanup.push(() => p.destroy());
    await until(() => s.accepted.length === 1 + claims.length, 'every connection accepted');
    // 1 KiB of each, far from what it claims: the refusal comes at the header, not at the end.
    for (const [i, p] of hostile.entries()) p.write(new Uint8Array([...wsFrameHeader(2, true, claims[i]!, true), ...new Uint8Array(1024)]));
    await until(() => hostile.every((p) => p.peerClosed), 'uWS to close each connection that claimed too much');
    // uWS ends them without a close frame (the peer sees no 1009); each conn's handler is told why, typed.
    const ends = await Promise.all(s.accepted.slice(1).map((r) => r.closed.promise));
    expect(ends.map((e) => ({ type: e?.constructor.name, code: (e as RpcError | undefined)?.code, message: e?.message }))).toEqual(
      claims.map(() => ({ type: 'RpcError', code: ErrorCode.FrameTooLarge, message: `websocket closed (1006 abnormal closure): Received too big message: a WebSocket message is over maxWsMessageBytes (${LIMIT})` })),
    );
    const small = frame('still here');
    honest.write(new Uint8Array([...wsFrameHeader(2, true, small.length, true), ...small]));
    await until(() => s.accepted[0]!.bodies.length === 1, 'the honest frame');
    expect(text(s.accepted[0]!.bodies[0]!)).toBe('still here');
    expect(s.accepted[0]!.isClosed).toBe(false);
  });
});
