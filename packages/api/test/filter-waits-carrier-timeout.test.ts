import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger } from '@skein/core';
import { cleanups, portOf, within } from '@skein/test-utils';
import { ClientStream, FailoverPool, RpcServer, type Caller } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createCluster, createServiceDispatch, implement, method, service, type Filter } from '../src/index.js';
import { transport } from './harness.js';

// A call given no timeout (neither its options nor its client) is bounded by its carrier's
// default (a ClientStream's `timeoutMs`, 20 s unless set). A client filter's `before` that never
// settles held such a call for ever, never sent and never failed: it ends as a call given that
// timeout does, Timeout (`retry: 'safe'`), never sent. Short defaults here, so that the test
// waits on the rejection itself; `within` only guards against a hang.

const Svc = service('Svc', { run: method<number, number>() });
const Checked = service('Checked', {
  // An asynchronous schema that never settles: waited for as a filter is.
  run: method({ input: { '~standard': { version: 1, vendor: 'test', validate: () => new Promise<never>(() => {}) } } as never, output: undefined as never }),
});
const cleanup = cleanups();
const NEVER: Filter = { before: () => new Promise<void>(() => {}) };
const GUARD_MS = 10_000;

async function server() {
  let runs = 0;
  const s = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, logger: silentLogger, services: [implement(Svc, { run: (n) => (runs++, n) })] }) });
  const a = await s.listen(transport, '127.0.0.1:0');
  cleanup.push(() => s.close());
  return { address: `127.0.0.1:${portOf(a)}`, runs: () => runs };
}

async function connect(address: string, timeoutMs: number) {
  const stream = await ClientStream.connect({ transport, address, timeoutMs });
  cleanup.push(() => stream.destroy());
  await stream.ping();
  return stream;
}

const neverSent = (ms: number, what = 'a client filter') => ({ code: ErrorCode.Timeout, retry: 'safe', message: `Svc.run: timed out after ${ms} ms while ${what} awaited; never sent` });

describe("a client filter's wait for a call given no timeout", () => {
  it("is bounded by its ClientStream's timeoutMs: Timeout, retry-safe, never sent", async () => {
    const s = await server();
    const stream = await connect(s.address, 200);
    const svc = createClient(Svc, stream, { codec: msgpackCodec, filters: [NEVER] });
    await expect(within(svc.run(1), GUARD_MS)).rejects.toMatchObject(neverSent(200));
    expect(stream.timeoutMs).toBe(200);
    expect(stream.inFlight).toBe(0);
    expect(s.runs()).toBe(0);
  });

  it("is bounded by a FailoverPool's timeout, and by a cluster's pool through a route function", async () => {
    const s = await server();
    const pool = new FailoverPool({ transport, servers: [{ address: s.address }], pool: { stream: { timeoutMs: 200 } } });
    cleanup.push(() => pool.destroy());
    await expect(within(createClient(Svc, pool, { codec: msgpackCodec, filters: [NEVER] }).run(1), GUARD_MS)).rejects.toMatchObject(neverSent(200));
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      filters: [NEVER],
      types: { t: { services: [Svc], servers: [{ id: 'a', address: s.address }], route: () => 'a', pool: { pool: { stream: { timeoutMs: 250 } } } } },
    });
    cleanup.push(() => rpc.$cluster.destroy());
    await expect(within(rpc.t.Svc.run(1), GUARD_MS)).rejects.toMatchObject(neverSent(250));
    await expect(within(rpc.t.$to('a').Svc.run(1), GUARD_MS)).rejects.toMatchObject(neverSent(250));
    expect(s.runs()).toBe(0);
  });

  it('is bounded by the timeoutMs a Caller of your own says it has', async () => {
    const s = await server();
    const stream = await connect(s.address, 20_000);
    const own: Caller = { send: (...a) => stream.send(...a), timeoutMs: 150 };
    const svc = createClient(Svc, own, { codec: msgpackCodec, filters: [NEVER] });
    await expect(within(svc.run(1), GUARD_MS)).rejects.toMatchObject(neverSent(150));
    expect(s.runs()).toBe(0);
  });

  it('still makes the call over a Caller whose timeoutMs throws when read: no synchronous throw from the stub', async () => {
    const s = await server();
    const stream = await connect(s.address, 20_000);
    const broken = {
      send: (...a: Parameters<Caller['send']>) => stream.send(...a),
      get timeoutMs(): number {
        throw new Error('broken getter');
      },
    };
    const svc = createClient(Svc, broken, { codec: msgpackCodec, filters: [{ before: () => Promise.resolve() }] });
    expect(await svc.run(4)).toBe(4);
    expect(s.runs()).toBe(1);
  });

  it("bounds an asynchronous input schema's wait too", async () => {
    const s = await server();
    const stream = await connect(s.address, 200);
    const checked = createClient(Checked, stream, { codec: msgpackCodec });
    await expect(within(checked.run(1 as never), GUARD_MS)).rejects.toMatchObject({ ...neverSent(200, 'its input schema'), message: 'Checked.run: timed out after 200 ms while its input schema awaited; never sent' });
  });
});

describe('a call given no timeout whose client filter awaited', () => {
  it('is sent as given: its handler sees no deadline, as without the filter (the carrier default bounds the wait only)', async () => {
    const Deadline = service('Deadline', { run: method<number, number | null>() });
    const s = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, logger: silentLogger, services: [implement(Deadline, { run: (_n, ctx) => ctx.deadline ?? null })] }) });
    const a = await s.listen(transport, '127.0.0.1:0');
    cleanup.push(() => s.close());
    const stream = await connect(`127.0.0.1:${portOf(a)}`, 20_000);
    const seen = async (filters: Filter[]) => createClient(Deadline, stream, { codec: msgpackCodec, filters }).run(1);
    expect(await seen([])).toBeNull();
    expect(await seen([{ before: async () => {} }])).toBeNull();
    // Its own timeout still goes, less the wait: the handler sees a deadline.
    expect(await createClient(Deadline, stream, { codec: msgpackCodec, filters: [{ before: async () => {} }], timeoutMs: 20_000 }).run(1)).not.toBeNull();
  });
});
