import { ErrorCode } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ManualClock, portOf, suiteCerts, testTls, waitFor, within, cleanups } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type RpcServerOptions } from '../src/index.js';
import { golden } from './golden.js';
import { memoryLogger, rawPeer, startServer, transport } from './harness.js';

const cleanup = cleanups();

/** A server on a clock the test drives, saying its lines into memory. */
async function server(opts: Partial<RpcServerOptions> = {}) {
  const logger = memoryLogger();
  const clock = new ManualClock();
  const s = await startServer({ echo: (r) => r.msg }, { logger, clock, ...opts });
  cleanup.push(() => s.server.close());
  const said = (re: RegExp) => logger.lines.filter((l) => re.test(l.msg ?? ''));
  return { ...s, logger, clock, said };
}

const badMagic = (() => {
  const b = Buffer.from(golden.numericActionRequest);
  b.writeUInt16LE(0xbeef, 0);
  return new Uint8Array(b);
})();
const oversized = (size: number) => {
  const b = Buffer.from(golden.numericActionRequest);
  b.writeUInt32LE(size, 24);
  return new Uint8Array(b);
};

/** `n` raw connections that each send `frame`, closed by the server. */
async function breakConnections(address: string, n: number, frame: (i: number) => Uint8Array): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const peer = rawPeer(address, cleanup);
      peer.send(frame(i));
      return within(peer.closed, 10_000, 'the server closing a bad connection');
    }),
  );
}

describe('protocol violations: one line per kind per window, not one per connection', () => {
  it('N connections sending malformed frames of two kinds: each kind said whole once (with the address), then counted per window; close says the rest', async () => {
    const s = await server();
    const malformed = () => s.said(/^closing connection: malformed frame/);
    await breakConnections(s.address, 30, () => badMagic);
    // Sizes differ, so do the reasons' numbers: still one kind.
    await breakConnections(s.address, 20, (i) => oversized(0xfffffff0 - i));
    await waitFor(() => s.server.connections === 0);
    const whole = malformed();
    expect(whole.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'closing connection: malformed frame'],
      ['warn', 'closing connection: malformed frame'],
    ]);
    expect(whole[0]!.obj).toMatchObject({ remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/), reason: 'bad magic 0xbeef' });
    expect(whole[1]!.obj).toMatchObject({ remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/), reason: expect.stringMatching(/^message of \d+ bytes exceeds/) });
    s.clock.advance(10_000);
    const counts = malformed().slice(2);
    // Each count line says the first reason of its kind as it was (not the key with its numbers
    // blanked, which read an OpenSSL reason as `NCENBEENFN:error:NANCN:...`); `kind` is the key.
    expect(counts.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'closing connection: malformed frame (bad magic 0xbeef): 29 more connections since the last line'],
      ['warn', expect.stringMatching(/^closing connection: malformed frame \(message of \d+ bytes exceeds \d+\): 19 more connections since the last line$/)],
    ]);
    expect(counts[0]!.obj).toEqual({ kind: 'closing connection: malformed frame (bad magic N)', connections: 29 });
    expect(counts[1]!.obj).toEqual({ kind: 'closing connection: malformed frame (message of N bytes exceeds N)', connections: 19 });
    // A window with none: the kind's next one is news again, said whole.
    s.clock.advance(10_000);
    await breakConnections(s.address, 3, () => badMagic);
    expect(malformed().slice(4).map((l) => l.msg)).toEqual(['closing connection: malformed frame']);
    // What is counted when the server closes is said then.
    await s.server.close();
    expect(malformed().slice(5).map((l) => l.msg)).toEqual(['closing connection: malformed frame (bad magic 0xbeef): 2 more connections since the last line']);
    expect(s.clock.running).toBe(0);
  });

  it('N new connections calling unauthenticated: one "unauthenticated call refused" line, then a count', async () => {
    const s = await server({ authenticate: () => undefined, requireAuth: true });
    const refused = () => s.said(/^unauthenticated call refused/);
    for (let i = 0; i < 12; i++) {
      const c = await ClientStream.connect({ transport, address: s.address, keepaliveMs: 0 });
      cleanup.push(() => c.destroy());
      await expect(c.call('echo')).rejects.toMatchObject({ code: ErrorCode.Unauthenticated });
      c.destroy();
    }
    expect(refused().map((l) => l.msg)).toEqual(['unauthenticated call refused']);
    expect(refused()[0]!.obj).toMatchObject({ remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/), reason: expect.stringMatching(/requires authentication/) });
    s.clock.advance(10_000);
    expect(refused().slice(1).map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'unauthenticated call refused (this server requires authentication: connect with credentials): 11 more connections since the last line'],
    ]);
  });

  it('N connections that leave a frame unfinished past readTimeoutMs: one line, then a count', async () => {
    const s = await server({ readTimeoutMs: 1_000, tickMs: 100 });
    const stalled = () => s.said(/^closing connection: a frame was not finished within the read timeout/);
    const peers = Array.from({ length: 8 }, () => {
      const peer = rawPeer(s.address, cleanup);
      peer.send(golden.numericActionRequest.subarray(0, 10)); // half a header
      return peer;
    });
    await waitFor(() => s.server.stats().accepted === 8);
    // The server sees each one mid-frame at a tick, then holds it to the timeout.
    await waitFor(() => {
      s.clock.advance(100);
      return s.server.connections === 0;
    }, { what: 'the stalled connections closed' });
    await Promise.all(peers.map((p) => within(p.closed, 10_000, 'the server closing a stalled connection')));
    expect(stalled().map((l) => [l.level, l.msg])).toEqual([['info', 'closing connection: a frame was not finished within the read timeout']]);
    s.clock.advance(10_000);
    expect(stalled().slice(1).map((l) => l.msg)).toEqual(['closing connection: a frame was not finished within the read timeout: 7 more connections since the last line']);
  });
});

describe('a failed TLS handshake: OpenSSL\'s reason', () => {
  const { serverTls } = testTls(suiteCerts());

  it('N plaintext clients on a TLS port: the count line is one line, and its kind reads, the hex of OpenSSL\'s thread and error code each one N', async () => {
    const logger = memoryLogger();
    const clock = new ManualClock();
    const server = new RpcServer({ dispatch: createRouter({}), logger, clock });
    const address = `127.0.0.1:${portOf(await server.listen(tcpTransport(nodeRuntime, { tls: serverTls() }), '127.0.0.1:0'))}`;
    cleanup.push(() => server.close());
    const failed = () => logger.lines.filter((l) => (l.msg ?? '').startsWith('closing connection: connection error'));
    // An HTTP request: OpenSSL fails each handshake, all in the server's one thread.
    await breakConnections(address, 5, () => new TextEncoder().encode('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    await waitFor(() => server.connections === 0);
    expect(failed().map((l) => l.msg)).toEqual(['closing connection: connection error']);
    // What went wrong, then OpenSSL's words as it says them (trimmed of their newline):
    // `<thread>:error:<code>:SSL routines:<function>:<reason>:<file>:<line>:`.
    const reason = String(failed()[0]!.obj.reason);
    const said = /^a plaintext \(non-TLS\) client on a TLS listener: [^\n]+; the TLS library said: /;
    expect(reason).toMatch(new RegExp(`${said.source}[0-9A-F]{8,}:error:[0-9A-F]{8}:SSL routines:[^\\n]+:$`));
    clock.advance(10_000);
    const counts = failed().slice(1);
    expect(counts.map((l) => l.msg)).toEqual([`closing connection: connection error (${reason}): 4 more connections since the last line`]);
    expect(counts[0]!.obj).toEqual({ kind: expect.stringMatching(new RegExp(`^closing connection: connection error \\(${said.source.slice(1)}N:error:N:SSL routines:[\\w]+:http request:[^\\n]+:N:\\)$`)), connections: 4 });
  });
});
