import { ErrorCode, type RpcError } from '@skein/core';
import { testCleanups, processStopped, startTcpRelay, waitFor, within } from '@skein/test-utils';
import { describe, it } from 'vitest';
import { ClientStream } from '../src/index.js';
import { fixtureServer, overSlowLink, transport, u32 } from './harness.js';

/*
 * The mirror of client-keepalive-upload: a client reading one large reply over a slow link pings
 * once nothing whole has come for keepaliveMs, and the server's answer waits behind the rest of
 * that reply. Its wait used to count from when the ping was written, and a frame still arriving
 * counted as silence, so a healthy connection was dropped (IO, "did not answer a ping") whenever
 * the rest of a reply took longer than keepaliveTimeoutMs: 32 MiB at 3 MiB/s with the defaults.
 * While the peer's bytes keep arriving the ping's time starts again; a peer that freezes
 * mid-frame sends none, and is found as before.
 */

const BOUND_MS = 20_000;
/** About 9 s for the reply at 4 MiB/s: the rest of it, after the ping (at ~1 s), takes longer than the default 5 s. */
const REPLY_BYTES = 36 * 1024 * 1024;
const LINK_BYTES_PER_SECOND = 4 * 1024 * 1024;

describe.concurrent("a client's keepalive while it reads one large reply", () => {
  // The two run at once, each with its own server, relay and client: one mostly waits on a slow
  // link, the other on a frozen server's silence. What each opens is closed when it ends.
  it('keeps a live connection whose ping waits behind the rest of the reply, on a slow link, with the default keepalive', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const client = await overSlowLink(cleanup, { big: () => ({ msg: u32(REPLY_BYTES), blob: new Uint8Array(REPLY_BYTES) }) }, LINK_BYTES_PER_SECOND);
    const reply = await client.call('big', u32(REPLY_BYTES), { timeoutMs: 60_000 });
    expect(reply.blob?.length).toBe(REPLY_BYTES);
    expect(client.state).toBe('open');
  }, 60_000);

  it('still gives up a server frozen mid-reply: once what the kernels held has come, no byte more arrives', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const { proc, address } = await fixtureServer(cleanup);
    const relay = await startTcpRelay(address);
    cleanup.push(() => relay.close());
    const client = await ClientStream.connect({ transport, address: relay.address });
    cleanup.push(() => client.destroy());
    await client.ping();
    relay.throttle(LINK_BYTES_PER_SECOND);
    const before = relay.fromTarget();
    const download = client.call('big', u32(REPLY_BYTES), { timeoutMs: 120_000 }).then(
      () => undefined,
      (e: RpcError) => e,
    );
    // Part of the reply frame is on its way: freeze the server in the middle of it.
    await waitFor(() => relay.fromTarget() - before > 1024 * 1024 || undefined, { timeoutMs: BOUND_MS, what: 'the reply to start' });
    proc.kill('SIGSTOP');
    await waitFor(() => processStopped(proc.pid) || undefined, { timeoutMs: BOUND_MS, what: 'the server stopped' });
    const err = await within(download, BOUND_MS, 'the download from a frozen server to fail');
    expect(err).toMatchObject({ code: ErrorCode.IO, message: expect.stringMatching(/did not answer a ping/) });
    expect(client.state).toBe('closed');
  }, 60_000);
});
