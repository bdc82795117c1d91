import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred, memoryLogger } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { uwsTransport, wsTransport } from '../src/index.js';
import { filledMessage, frame, rawWsPeer, spec, startServer, until, wsFrameHeader } from './helpers.js';

const cleanup = cleanups();

const MiB = 1024 * 1024;
/** One message: a test frame filling it, under maxWsMessageBytes (4 MiB). */
const MESSAGE = 4 * MiB - 16;
const message = (): Uint8Array => filledMessage(MESSAGE);

const REFUSED = /not upgraded: HTTP\/1\.1 503 Service Unavailable/;

/**
 * uWebSockets.js collects a message that arrives in pieces in a buffer of the connection's own,
 * shows JS neither that buffer nor a count of its bytes, and keeps it (emptied) until the
 * connection closes: measured, four connections that had each received one 64 MiB message in
 * pieces held 256 MiB more RSS after the messages were delivered, until they closed. So
 * maxPendingMessageBytes can bound it there only by the connections open: each reserves
 * maxWsMessageBytes from its upgrade to its close. Without it, 1,000 connections each holding
 * most of a 64 MiB message could hold some 64 GB.
 */
describe('uWebSockets.js: maxPendingMessageBytes', () => {
  it('reserves maxWsMessageBytes per connection from its upgrade to its close: an upgrade past it is answered 503, those in go on', async () => {
    const logger = memoryLogger();
    const s = await startServer(uwsTransport({ maxWsMessageBytes: 4 * MiB, maxPendingMessageBytes: 8 * MiB, logger }), { echo: true });
    cleanup.push(() => s.listener.close());
    const peers = [await rawWsPeer(s.port), await rawWsPeer(s.port)];
    for (const p of peers) cleanup.push(() => p.destroy());
    await until(() => s.accepted.length === 2, 'two connections');
    // One holds 3 MiB of a 4 MiB message in uWS's buffer, where JS cannot see it.
    const whole = message();
    peers[0]!.write(wsFrameHeader(2, true, MESSAGE, true));
    peers[0]!.write(whole.subarray(0, 3 * MiB));

    // A third would take the listener's reservations to 12 MiB: refused before it is a connection.
    await expect(rawWsPeer(s.port)).rejects.toThrow(REFUSED);
    const err = await wsTransport().connect({ host: '127.0.0.1', port: s.port }, spec).catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.Unreachable)).toBe(true);
    expect(s.accepted.length).toBe(2);
    // Said once for the run of refusals, with the numbers.
    const said = logger.lines.filter((l) => l.level === 'warn' && /maxPendingMessageBytes/.test(l.msg ?? ''));
    expect(said.map((l) => l.obj)).toEqual([expect.objectContaining({ maxPendingMessageBytes: 8 * MiB, maxWsMessageBytes: 4 * MiB, reserved: 8 * MiB })]);

    // The message finishes and is delivered; uWS keeps its buffer, so the share stays taken.
    peers[0]!.write(whole.subarray(3 * MiB));
    await until(() => s.accepted[0]!.bodies.length === 1, 'the message read whole');
    await expect(rawWsPeer(s.port)).rejects.toThrow(REFUSED);

    // A connection's close gives its share back: one more fits again, and works.
    peers[1]!.destroy();
    await until(() => s.accepted[1]!.isClosed, 'the second connection closed');
    const later = await rawWsPeer(s.port);
    cleanup.push(() => later.destroy());
    await until(() => s.accepted.length === 3, 'a later connection');
    const small = frame('after');
    later.write(new Uint8Array([...wsFrameHeader(2, true, small.length, true), ...small]));
    await until(() => s.accepted[2]!.bodies.length === 1, 'its frame');
    expect(s.accepted.map((r) => r.isClosed)).toEqual([false, true, false]);
  });

  it("is asked at the upgrade hook's verdict: a request waiting on its hook, or refused by it, holds none of it", async () => {
    const gate = deferred<void>();
    const seen: string[] = [];
    const upgrade = async (req: { url: string }): Promise<boolean> => {
      seen.push(req.url);
      await gate.promise;
      return !req.url.includes('who=a');
    };
    // Room for one connection.
    const s = await startServer(uwsTransport({ maxWsMessageBytes: 4 * MiB, maxPendingMessageBytes: 4 * MiB, upgrade }));
    cleanup.push(() => s.listener.close());
    const a = rawWsPeer(s.port, '/skein?who=a');
    a.catch(() => {});
    await until(() => seen.length === 1, 'the first request at its hook');
    const b = rawWsPeer(s.port, '/skein?who=b');
    await until(() => seen.length === 2, 'the second request at its hook');
    gate.resolve();
    // The first, refused by its hook, took nothing: the second, let through, fits.
    await expect(a).rejects.toThrow(/not upgraded: HTTP\/1\.1 401/);
    const admitted = await b;
    cleanup.push(() => admitted.destroy());
    await until(() => s.accepted.length === 1, 'the second connection');
    // A third, let through by its hook, finds the budget taken.
    await expect(rawWsPeer(s.port, '/skein?who=c')).rejects.toThrow(REFUSED);
    expect(s.accepted.length).toBe(1);
  });

  it("applies only when given: four maxWsMessageBytes, the ws server's default budget, would admit four connections", async () => {
    const s = await startServer(uwsTransport({ maxWsMessageBytes: MiB }));
    cleanup.push(() => s.listener.close());
    const peers = [];
    for (let i = 0; i < 6; i++) peers.push(await rawWsPeer(s.port));
    for (const p of peers) cleanup.push(() => p.destroy());
    await until(() => s.accepted.length === 6, 'six connections');
  });
});
