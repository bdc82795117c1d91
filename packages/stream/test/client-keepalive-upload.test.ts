import { ErrorCode, EMPTY_BYTES, type RpcError } from '@skein/core';
import { testCleanups, processStopped, waitFor, within } from '@skein/test-utils';
import { describe, it } from 'vitest';
import { ClientStream } from '../src/index.js';
import { fixtureServer, overSlowLink, transport, u32 } from './harness.js';

/*
 * A client's keepalive ping goes out behind the client's own bytes: uploading one large message
 * over a slow link, it waits behind the rest of that message, and the peer cannot answer what it
 * has not had. Its wait used to count from when it was written, so a healthy connection was
 * dropped (every call IO, "did not answer a ping") whenever the rest of an upload took longer
 * than keepaliveTimeoutMs: 32 MiB at 3 MiB/s with the defaults, or a slower one on a loaded
 * machine. While the kernel takes our bytes the ping's time starts again; a peer that takes none
 * (frozen, once the buffers are full) is found as before.
 */

/**
 * A ping after 200 ms of silence, its answer waited for 6 s. What the kernel buffers hold when our
 * own buffer has drained (megabytes, at the link's pace) is still ahead of the ping, and counts
 * against the 6 s: room for a relay slowed by a loaded machine.
 */
const KEEPALIVE = { keepaliveMs: 200, keepaliveTimeoutMs: 6_000, tickMs: 50 };
const BOUND_MS = 20_000;

describe.concurrent("a client's keepalive while it uploads one large message", () => {
  // The two run at once, each with its own server, relay and client: one mostly waits on a slow
  // link, the other on a frozen server's silence. What each opens is closed when it ends.
  it('keeps a live connection whose ping waits behind the rest of the upload, on a slow link', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    // ~10 s at 4 MiB/s: the rest of it, after the ping, takes far longer than keepaliveTimeoutMs.
    const size = 40 * 1024 * 1024;
    const client = await overSlowLink(cleanup, { sink: (req) => u32(req.blob.length) }, 4 * 1024 * 1024, KEEPALIVE);
    const reply = await client.call('sink', EMPTY_BYTES, { blob: new Uint8Array(size), timeoutMs: 60_000 });
    expect(reply.msg).toEqual(u32(size));
    expect(client.state).toBe('open');
  }, 60_000);

  it('still gives up a server frozen mid-upload: once the buffers are full the kernel takes nothing more', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const { proc, address } = await fixtureServer(cleanup);
    const client = await ClientStream.connect({ transport, address, ...KEEPALIVE });
    cleanup.push(() => client.destroy());
    await client.call('echo', u32(1));
    proc.kill('SIGSTOP');
    await waitFor(() => processStopped(proc.pid) || undefined, { timeoutMs: BOUND_MS, what: 'the server stopped' });
    // Far more than the kernel buffers on both sides hold.
    const upload = client.call('echo', EMPTY_BYTES, { blob: new Uint8Array(64 * 1024 * 1024), timeoutMs: 120_000 }).then(
      () => undefined,
      (e: RpcError) => e,
    );
    const err = await within(upload, BOUND_MS, 'the upload to a frozen server to fail');
    expect(err).toMatchObject({ code: ErrorCode.IO, message: expect.stringMatching(/did not answer a ping/) });
    expect(client.state).toBe('closed');
  }, 60_000);
});
