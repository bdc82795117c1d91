// The peer-mesh example end to end (a new user's app, built from the docs only): one RpcServer
// port takes peers (a token makes them one) and clients (no credentials), each kind under its
// own limits; peers and a client behind NAT are called back over their own connections; Heavy's
// methods run on a WorkerPool. Peers and the NAT client are real processes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, FailoverPool } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { memoryLogger, startProcess, waitFor, type Proc } from '@skein/test-utils';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { connectClient } from '../src/client.js';
import { Heavy, Mesh } from '../src/contract.js';
import { startHub, type Hub } from '../src/hub.js';
import { connectPeer } from '../src/peer.js';
import { bundleApp } from './bundle.js';

const SECRET = 's3cret';
const transport = tcpTransport(nodeRuntime);
let hub: Hub;
let app: Awaited<ReturnType<typeof bundleApp>>;
let tmp: string;
const log = memoryLogger();
const procs: Proc[] = [];
const closers: (() => Promise<unknown>)[] = [];

const rejection = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as RpcError);
const spawn = (file: string, ...args: string[]) => {
  const p = startProcess(process.execPath, [file, ...args]);
  procs.push(p);
  return p;
};

beforeAll(async () => {
  app = await bundleApp();
  tmp = mkdtempSync(join(tmpdir(), 'peer-mesh-'));
  hub = await startHub({
    workerModule: app.heavy,
    peerSecret: SECRET,
    logger: log,
    peers: { maxConnections: 8, maxInFlightPerConn: 64, idleTimeoutMs: 60_000, limits: { maxMessage: 1 << 20 } },
    clients: { maxConnections: 3, maxInFlightPerConn: 2, idleTimeoutMs: 1_000, limits: { maxMessage: 1024 } },
    // execArgv: []: vitest runs with --conditions skein-source, which workers would inherit and then
    // load the packages' .ts sources (a plain `node` process has no such flag).
    pool: { workers: 1, maxInFlightPerWorker: 1, maxQueued: 2, exposeInternalErrors: true, execArgv: [] },
  });
}, 20_000);

// Each test leaves the hub as it found it: the kinds' caps are small, and shared.
afterEach(async () => {
  for (const c of closers.splice(0)) await c().catch(() => {});
  const gone = procs.splice(0).map((p) => (p.kill(), p.exited));
  await Promise.all(gone);
  await waitFor(() => hub.server.stats().connections === 0 || undefined, { timeoutMs: 20_000, what: 'every connection of the test closed' });
});

afterAll(async () => {
  await hub?.close();
  rmSync(tmp, { recursive: true, force: true });
});

it('tells a peer (token) from a client (none) on one port', async () => {
  const peer = spawn(app.peer, String(hub.port), 'billing', SECRET);
  const client = spawn(app.client, String(hub.port));
  await peer.waitForLine(/^ready peer$/);
  await client.waitForLine(/^ready client$/);
  expect(hub.server.stats()).toMatchObject({ peers: 1, clients: 1 });
});

it('holds each kind to its own in-flight cap and frame size', async () => {
  const peer = await connectPeer(hub.port, 'inventory', SECRET);
  const client = await connectClient(hub.port, () => {});
  closers.push(() => peer.stream.close(), () => client.stream.close());
  const peak = (xs: number[]) => Math.max(...xs);
  const [onPeer, onClient] = await Promise.all([
    Promise.all(Array.from({ length: 6 }, () => peer.mesh.hold({ ms: 150 }))),
    Promise.all(Array.from({ length: 6 }, () => client.mesh.hold({ ms: 150 }))),
  ]);
  expect(peak(onPeer)).toBe(6);
  expect(peak(onClient)).toBe(2);
  expect(await peer.mesh.echo('x'.repeat(4096))).toHaveLength(4096);
  const tooBig = await rejection(client.mesh.echo('x'.repeat(4096)));
  expect(tooBig.code).toBe(ErrorCode.FrameTooLarge);
});

it("a client flood cannot take a peer's place", async () => {
  // Clients that connect and then only wait for pushes (they make no call) fill the clients'
  // cap and then some; a peer with its token must still get in, as a peer.
  // 3 + 8 + 1: more than the clients' cap and the peers' places together.
  const flood = await Promise.all(Array.from({ length: 12 }, () => connectClient(hub.port, () => {}).catch((e: unknown) => e)));
  try {
    // Bounded generously (a node process started under load can take seconds to connect), and
    // the test's own timeout above the two bounds, so that a slow stage is named.
    await waitFor(() => hub.server.stats().clients <= 3 || undefined, { timeoutMs: 20_000, what: 'clients past their cap sent away' });
    const peer = spawn(app.peer, String(hub.port), 'late-peer', SECRET);
    await peer.waitForLine(/^ready peer$/, 20_000);
  } finally {
    for (const c of flood) if (!(c instanceof Error) && 'stream' in (c as object)) (c as { stream: ClientStream }).stream.destroy();
  }
  expect(log.lines.some((l) => /clients at their cap/.test(l.msg ?? ''))).toBe(true);
}, 60_000);

it('calls back peers and a client behind NAT, both ways at once, under load', async () => {
  const loaded = spawn(app.peer, String(hub.port), 'loaded', SECRET, '1000');
  await loaded.waitForLine(/^ready peer$/);
  const nat = spawn(app.client, String(hub.port));
  await nat.waitForLine(/^ready client$/);
  let pushes = 0;
  let squares = 0;
  const end = Date.now() + 800;
  while (Date.now() < end) {
    const [took, sq] = await Promise.all([hub.pushToClients(`note ${pushes}`), hub.squareOnPeers(3)]);
    pushes += took > 0 ? 1 : 0;
    squares += sq.filter((v) => v === 9).length;
  }
  const [, ok, bad, err] = (await loaded.waitForLine(/^load ok=(\d+) bad=(\d+) err=(.*)$/))!;
  expect({ bad: Number(bad), err }).toEqual({ bad: 0, err: '' });
  expect(Number(ok)).toBeGreaterThan(0);
  expect(squares).toBeGreaterThan(0);
  expect(pushes).toBeGreaterThan(0);
  await nat.waitForLine(new RegExp(`^pushed note ${pushes - 1}$`));
});

it('a handler on a worker thread calls the peer back over its connection', async () => {
  const peer = await connectPeer(hub.port, 'worker-caller', SECRET);
  closers.push(() => peer.stream.close());
  const heavy = createClient(Heavy, peer.stream, { codec: msgpackCodec });
  expect(await Promise.all([1, 2, 3].map((n) => heavy.squareViaWorker(n)))).toEqual([2, 5, 10]);
});

it('closes idle clients after their own idle timeout, not peers nor clients the hub pushes to', async () => {
  const quietStream = await ClientStream.connect({ transport, address: `127.0.0.1:${hub.port}` }); // serves nothing
  const quiet = { stream: quietStream, mesh: createClient(Mesh, quietStream, { codec: msgpackCodec }) };
  const pushedTo = await connectClient(hub.port, () => {});
  const peer = await connectPeer(hub.port, 'idler', SECRET);
  closers.push(() => quiet.stream.close(), () => pushedTo.stream.close(), () => peer.stream.close());
  const kinds = await Promise.all([quiet.mesh.whoami(), pushedTo.mesh.whoami(), peer.mesh.whoami()]);
  expect(kinds.map((k) => k.kind)).toEqual(['client', 'client', 'peer']);
  let quietClosed = false;
  void quiet.stream.closed().then(() => (quietClosed = true));
  const pushing = (async () => {
    while (!quietClosed) {
      await hub.pushToClients('tick');
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await waitFor(() => quietClosed || undefined, { timeoutMs: 20_000, what: 'the quiet client closed by its idle timeout' });
  await pushing;
  expect(peer.stream.state).not.toBe('closed');
  expect(await peer.mesh.echo('still here')).toBe('still here');
  // a client behind NAT that only takes pushes is in use, not idle
  expect(pushedTo.stream.state).not.toBe('closed');
});

it('a worker crash mid-call says the handler may have run, and a non-idempotent call runs once', async () => {
  const ledger = join(tmp, 'ledger');
  const pool = new FailoverPool({ transport, servers: [`127.0.0.1:${hub.port}`], pool: { stream: { credentials: `peer:payer:${SECRET}` } } });
  expect((await createClient(Mesh, pool, { codec: msgpackCodec }).whoami()).kind).toBe('peer');
  closers.push(() => pool.close());
  const heavy = createClient(Heavy, pool, { codec: msgpackCodec });
  const err = await rejection(heavy.charge({ id: 'order-1', ledger, crash: true }));
  expect(err).toBeInstanceOf(RpcError);
  expect(err.code).toBe(ErrorCode.IO);
  expect(err.retry).toBe('idempotent');
  expect(err.message).toMatch(/Heavy\.charge/);
  expect(err.message).toMatch(/may have (run|executed)/);
  expect(readFileSync(ledger, 'utf8')).toBe('order-1\n');
  // the replacement serves the next call
  expect(await heavy.charge({ id: 'order-2', ledger })).toBe('charged order-2');
  expect(log.lines.some((l) => l.level === 'error' && /exited with code 7/.test(JSON.stringify(l)))).toBe(true);
});

it('a full pool queue answers Overloaded, unrun', async () => {
  const peer = await connectPeer(hub.port, 'spinner', SECRET);
  closers.push(() => peer.stream.close());
  expect((await peer.mesh.whoami()).kind).toBe('peer'); // else the clients' in-flight cap of 2 would keep the queue short
  const heavy = createClient(Heavy, peer.stream, { codec: msgpackCodec });
  const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => heavy.spin({ ms: 150 })));
  const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason as RpcError);
  expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3); // one in the worker, two queued
  expect(refused.map((e) => [e.code, e.retry])).toEqual(Array(3).fill([ErrorCode.Overloaded, 'safe']));
  expect(refused[0]!.message).toMatch(/Heavy\.spin/);
});

it('closes gracefully: a worker call and a reverse call in flight finish', async () => {
  const peer = await connectPeer(hub.port, 'drainer', SECRET);
  const heavy = createClient(Heavy, peer.stream, { codec: msgpackCodec });
  const spinning = heavy.spin({ ms: 200 });
  const calling = peer.mesh.squarePlusOne({ n: 4, ms: 200 }); // the hub's handler calls the peer back
  const pushing = hub.squareOnPeers(5, 200); // the hub calls the peer on its own
  await waitFor(() => peer.served() === 2 || undefined, { timeoutMs: 20_000, what: 'both reverse calls running on the peer' });
  const closing = hub.close();
  // From close() on, the hub sends no new reverse call: refused at once, unsent.
  const refusal = await hub.squareOnPeers(6).then(() => undefined, (e: RpcError) => e);
  expect(refusal).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
  await expect(spinning).resolves.toBeGreaterThan(0);
  await expect(calling).resolves.toBe(17);
  await expect(pushing).resolves.toEqual([25]);
  await closing;
  expect(hub.pool.stats().state).toBe('closed');
});
