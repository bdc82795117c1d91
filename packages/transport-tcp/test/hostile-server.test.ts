import net from 'node:net';
import tls from 'node:tls';
import { FrameError } from '@skein/core';
import { waitFor, cleanups, suiteCerts, within } from '@skein/test-utils';
import { nodeRuntime } from '@skein/runtime-node';
import { describe, expect, it } from 'vitest';
import { tcpTransport } from '../src/index.js';
import { countingRuntime, recordFrames } from './harness.js';
import { LIMIT, encode, header, noise, spec } from './spec.js';

const KiB = 1024;
const cleanup = cleanups();
const certs = suiteCerts();

/** A plain TCP server (or the one `create` makes) playing a Skein server by hand: it hands over each socket it accepts. */
async function rawServer(create = (accepted: (s: net.Socket) => void): net.Server => net.createServer(accepted)): Promise<{ address: { host: string; port: number }; next: () => Promise<net.Socket> }> {
  const sockets: net.Socket[] = [];
  const server = create((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => (sockets.forEach((s) => s.destroy()), server.close(r))));
  let taken = 0;
  const next = async (): Promise<net.Socket> => {
    await waitFor(() => sockets.length > taken, { what: 'a connection' });
    return sockets[taken++]!;
  };
  return { address: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }, next };
}

describe('frames cut across chunks, from servers this transport connected to', () => {
  it('a server that stalls mid-frame costs only its own connection: a cut frame from another server still arrives', async () => {
    const { runtime, received } = countingRuntime(nodeRuntime, 'made');
    const transport = tcpTransport(runtime, { maxPendingFrameBytes: 1024 * KiB });
    const hostile = await rawServer();
    const honest = await rawServer();
    const a = recordFrames(await transport.connect(hostile.address, spec));
    cleanup.push(() => a.conn.close());
    const aSide = await hostile.next();
    const b = recordFrames(await transport.connect(honest.address, spec));
    cleanup.push(() => b.conn.close());
    const bSide = await honest.next();
    // 900 KiB of a 1000 KiB frame, and then nothing, ever.
    const stalled = noise(1000 * KiB, 1);
    aSide.write(Buffer.concat([header(stalled.length), stalled.subarray(0, 900 * KiB)]));
    await waitFor(() => received[0]! >= 4 + 900 * KiB, { what: 'the stalled start received' });
    // A whole 700 KiB frame from the other server, cut across reads as loopback delivers it.
    const body = noise(700 * KiB, 2);
    bSide.write(encode(body));
    await b.frameCount(1);
    expect(Buffer.from(b.frames[0]!.body).equals(Buffer.from(body))).toBe(true);
    expect([a.closeCalls, b.closeCalls]).toEqual([[], []]);
  });
});

describe('a server that breaks framing and never closes its side', () => {
  // Half-open allowed: our end does not end the server's side, as a stranger that never reads it would not.
  it.each([
    ['plaintext', () => ({}), (accepted: (s: net.Socket) => void) => net.createServer({ allowHalfOpen: true }, accepted)],
    ['TLS', () => ({ tls: { ca: certs.ca } }), (accepted: (s: net.Socket) => void) => tls.createServer({ ...certs.server, allowHalfOpen: true }, accepted)],
  ])('%s: fails the connection this transport dialled at once with the FrameError, not lingerMs later', async (_, options, create) => {
    // A linger past the test's timeout: a client that waited for the server to close would time out here.
    const transport = tcpTransport(nodeRuntime, { lingerMs: 60_000, ...options() });
    const server = await rawServer(create);
    const c = recordFrames(await transport.connect(server.address, spec));
    cleanup.push(() => c.conn.close());
    // Its side stays open until the cleanup: it never ends or destroys it.
    const side = await server.next();
    side.on('error', () => {});
    side.write(header(LIMIT + 1));
    const err = await within(c.closed, 10_000, 'the close of the connection, before the server closes its side');
    expect(err).toBeInstanceOf(FrameError);
    expect(err!.message).toBe(`body of ${LIMIT + 1} bytes is over the ${LIMIT} byte limit`);
  });
});
