import { fileURLToPath } from 'node:url';
import { EMPTY_BYTES } from '@skein/core';
import { runtime as nodeRuntime } from '@skein/runtime';
import { ClientStream } from '@skein/stream';
import { connectRazorClient, describeNeeding, startTcpRelayProcess, cleanups } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { expect, it } from 'vitest';
import { launch, reap, type RuntimeName } from './runtimes.js';

/*
 * The server's write-stall check on each runtime's own sockets (docs/protocol.md, "Server
 * pings"): Bun's and Deno's ByteConns count what their writes took (ByteConn.sentBytes), Node's
 * reads libuv's handle. A client that stopped reading behind a large reply is ended once its
 * kernel took no byte for keepaliveMs + keepaliveTimeoutMs; a slow reader, whose kernel takes
 * bytes all along, is not.
 */

const script = fileURLToPath(new URL('./fixtures/stall-server.mjs', import.meta.url));
const STALL_LINE = /took no byte of what the server sent/;
const BOUND_MS = 20_000;

const cleanup = cleanups();

async function stallServer(runtime: RuntimeName, keepaliveMs: number) {
  const server = launch(runtime, script, [String(keepaliveMs)]);
  cleanup.push(() => reap(server));
  const [, address, name] = await server.waitForLine(/^listening (\S+) runtime=(\S+)/, BOUND_MS);
  expect(name).toBe(runtime);
  return { server, address: address! };
}

for (const runtime of ['node', 'bun', 'deno'] as const) describeNeeding(runtime === 'node' ? [] : [runtime], `the write-stall check on a ${runtime} server`, () => {
  it('ends a client that stopped reading behind a large reply (its kernel took no byte for keepaliveMs + keepaliveTimeoutMs)', async () => {
    const { server, address } = await stallServer(runtime, 200);
    const client = await connectRazorClient(address);
    cleanup.push(() => client.destroy());
    // It stops reading before it asks, as a process stopped then would: its window shuts.
    client.socket.pause();
    void client.call('big').catch(() => undefined);
    await server.waitForLine(STALL_LINE, BOUND_MS);
  }, 30_000);

  it('does not end a client reading slowly through a throttled link', async () => {
    // 2 s without a byte taken: the kernel takes a slow reader's bytes in steps of a third of its
    // send buffer (about 1.3 MiB, 160 ms at 8 MiB/s), so the relay may be starved of CPU (a loaded
    // machine) for over 1.8 s before this reader looks stalled.
    const { server, address } = await stallServer(runtime, 1000);
    // The link runs in a process of its own: in this one, it would stop whenever the client's
    // loop does (assembling the 48 MiB reply held it 1 to 2.5 s on a loaded machine), and the
    // server, seeing no byte taken, would be right to end the connection.
    const relay = await startTcpRelayProcess(address, 8 * 1024 * 1024, BOUND_MS);
    cleanup.push(() => relay.close());
    // What is judged is the server's stall check; the client's own keepalive (5 s by default) is
    // given room, so that a CPU-starved relay (a loaded CI machine) does not end it first.
    const client = await ClientStream.connect({ transport: tcpTransport(nodeRuntime), address: relay.address, keepaliveTimeoutMs: 30_000 });
    cleanup.push(() => client.destroy());
    // 48 MiB at 8 MiB/s: six seconds of a full send buffer, three times the bound.
    const reply = await client.call('big', EMPTY_BYTES, { timeoutMs: 60_000 });
    expect(reply.blob.length).toBe(48 * 1024 * 1024);
    expect(client.state).toBe('open');
    expect(server.lines.some((l) => STALL_LINE.test(l))).toBe(false);
  }, 60_000);
});
