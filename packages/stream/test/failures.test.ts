import { ErrorCode, RpcError } from '@skein/core';
import { deferred, ManualClock, settleAll, within, cleanups } from '@skein/test-utils';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientStream } from '../src/index.js';
import { fixtureServer, readU32, recordingTransport, startServer, transport, u32 } from './harness.js';

const cleanup = cleanups();

describe('timeouts', () => {
  it('fails a call whose handler never answers with Timeout, and drops the late reply', async () => {
    const late = deferred<Uint8Array>();
    const s = await startServer({ hang: () => late.promise, echo: (r) => r.msg }, { closeWaitMs: 100 });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ tickMs: 50 });
    cleanup.push(() => client.destroy());
    const err = await within(client.call('hang', u32(1), { timeoutMs: 200 }).catch((e) => e), 5000);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.Timeout);
    expect(err.retry).toBe('idempotent');
    expect(client.inFlight).toBe(0);
    late.resolve(u32(99)); // the late reply arrives and must not disturb the next call
    const r = await client.call('echo', u32(7));
    expect(readU32(r.msg)).toBe(7);
  });

  it('times out a call that never left the queue as never executed', async () => {
    const s = await startServer({ hang: () => new Promise(() => {}) }, { closeWaitMs: 100 });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ window: 1, tickMs: 50 });
    cleanup.push(() => client.destroy());
    const first = client.call('hang', undefined, { timeoutMs: 10_000 }).catch((e) => e);
    const second = await client.call('hang', undefined, { timeoutMs: 100 }).catch((e) => e);
    expect(second.code).toBe(ErrorCode.Timeout);
    expect(second.retry).toBe('safe');
    client.destroy();
    expect((await first).code).toBe(ErrorCode.IO);
  });

  it('gives a call its full timeout in ticks when the ticker runs late (a stalled event loop)', async () => {
    const gate = deferred<void>();
    const s = await startServer({ hang: () => gate.promise.then(() => u32(0)) });
    cleanup.push(() => s.server.close());
    cleanup.push(() => gate.resolve());
    const clock = new ManualClock();
    const client = await s.connect({ clock, window: 1, tickMs: 1000, timeoutMs: 20_000, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    clock.stall(50_000); // fifty ticks' worth of time pass while the ticker is held back
    const outcomes: (RpcError | null | undefined)[] = [undefined, undefined];
    client.send('hang', u32(1), {}, (err) => (outcomes[0] = err as RpcError)); // on the wire
    client.send('hang', u32(2), {}, (err) => (outcomes[1] = err as RpcError)); // waiting for the window
    // The first tick may come right after the send: 20 s are surely over only 21 ticks of 1 s on.
    for (let t = 0; t < 20; t++) clock.fireAll();
    expect(outcomes).toEqual([undefined, undefined]);
    clock.fireAll();
    expect(outcomes[0]).toMatchObject({ code: ErrorCode.Timeout, retry: 'idempotent' });
    expect(outcomes[1]).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    expect(client.inFlight + client.queued).toBe(0);
  });
});

describe('keepalive', () => {
  it('declares a SIGSTOPped server dead and fails its pending calls with IO', async () => {
    const { proc, address } = await fixtureServer(cleanup);
    const client = await ClientStream.connect({ transport, address, keepaliveMs: 100, keepaliveTimeoutMs: 500, tickMs: 50 });
    cleanup.push(() => client.destroy());
    await client.call('echo', u32(1));
    proc.kill('SIGSTOP');
    const pending = client.call('echo', u32(2), { timeoutMs: 60_000 }).catch((e) => e);
    const err = await within(pending, 10_000, 'pending call');
    expect(err.code).toBe(ErrorCode.IO);
    expect(err.message).toMatch(/did not answer a ping/);
    expect(client.state).toBe('closed');
  });

  it('keeps an idle but healthy connection open by pinging', async () => {
    const s = await startServer({ echo: (r) => r.msg });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ keepaliveMs: 50, keepaliveTimeoutMs: 200, tickMs: 25 });
    cleanup.push(() => client.close());
    await new Promise((r) => setTimeout(r, 600)); // several ping rounds while idle
    expect(client.state).toBe('open');
    expect(readU32((await client.call('echo', u32(3))).msg)).toBe(3);
  });

  it('reads the clock once per tick, even on a tick that sends a ping', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const rec = recordingTransport();
    const clock = new ManualClock();
    const client = await ClientStream.connect({ transport: rec.transport, address: s.address, clock, tickMs: 1000, keepaliveMs: 1000 });
    cleanup.push(() => client.destroy());
    clock.stall(1000);
    const before = clock.reads;
    const written = rec.writes.length; // the hello
    clock.fireAll();
    expect(rec.writes.length - written).toBe(1); // the ping
    expect(clock.reads - before).toBe(1);
  });
});

describe('a peer that answers what it was not asked', () => {
  /** An ok answer for `seq` (razor v1's response header, docs/protocol.md) carrying `body`. */
  const answer = (seq: number, body: string): Buffer => {
    const h = Buffer.alloc(20);
    h.writeUInt16LE(0x4d25, 0);
    h[2] = 1;
    h.writeUInt32LE(Buffer.byteLength(body), 4);
    h.writeBigUInt64LE(BigInt(seq), 8);
    return Buffer.concat([h, Buffer.from(body)]);
  };

  it('gives each call the first answer to its own seq, and drops repeats and answers to seqs not sent', async () => {
    // A razor-like peer (it leaves the hello unanswered) that answers each call with: an answer
    // to a seq a ring's worth ahead (the client's seq table starts with 16 slots) and to the
    // next few, not sent yet; then the call's answer; then that answer again, changed.
    const peer = net.createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on('error', () => {});
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 32) {
          const action = buf.readUInt32LE(4);
          const seq = Number(buf.readBigUInt64LE(8));
          const name = action & 0x8000_0000 ? action & 0x7fff_ffff : 0;
          const size = 32 + name + buf.readUInt32LE(24) + buf.readUInt32LE(28);
          if (buf.length < size) break;
          buf = buf.subarray(size);
          if (action === 0) sock.write(answer(seq, ''));
          else if (action !== 0x7fff_ff00) {
            sock.write(Buffer.concat([answer(seq + 16, 'ahead'), answer(seq + 1, 'next'), answer(seq + 2, 'next'), answer(seq, `first ${seq}`), answer(seq, `again ${seq}`)]));
          }
        }
      });
    });
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => peer.close(resolve)));
    const client = await ClientStream.connect({ transport, address: `127.0.0.1:${(peer.address() as net.AddressInfo).port}`, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const text = (r: { msg: Uint8Array }): string => Buffer.from(r.msg).toString();
    const first = text(await client.call('op'));
    await client.ping(); // its answer comes after everything the peer wrote for the first call
    const second = text(await client.call('op'));
    expect(first).toMatch(/^first \d+$/);
    expect(second).toMatch(/^first \d+$/);
    expect(second).not.toBe(first);
    expect(client.inFlight).toBe(0);
    expect(client.state).toBe('open');
  });
});

describe('connection loss', () => {
  it('fails every pending call with IO when the server is killed mid-flood, and none hangs', async () => {
    const { proc, address } = await fixtureServer(cleanup);
    const client = await ClientStream.connect({ transport, address, window: 64 });
    cleanup.push(() => client.destroy());
    let done = 0;
    const calls = Array.from({ length: 5000 }, (_, i) => client.call('slow', u32(i)).finally(() => done++));
    await new Promise<void>((resolve) => {
      const t = setInterval(() => done > 100 && (clearInterval(t), resolve()), 5);
    });
    proc.kill('SIGKILL');
    const { ok, errors } = await within(settleAll(calls), 15_000, 'all calls');
    expect(ok.length + errors.length).toBe(5000);
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect((e as RpcError).code).toBe(ErrorCode.IO);
    // Calls that were still queued never reached the server: safe to retry anywhere.
    expect(errors.some((e) => (e as RpcError).retry === 'safe')).toBe(true);
    expect(client.state).toBe('closed');
    await expect(client.call('echo')).rejects.toMatchObject({ code: ErrorCode.Closed });
  });

  it('rejects a connect to a port nobody listens on with Unreachable', async () => {
    const s = await startServer({});
    const address = s.address;
    await s.server.close();
    await expect(ClientStream.connect({ transport, address })).rejects.toMatchObject({ code: ErrorCode.Unreachable });
  });
});

describe('cancellation and overload', () => {
  it('aborting a call rejects it at once with Cancelled and frees its window slot', async () => {
    const s = await startServer({ hang: () => new Promise(() => {}), echo: (r) => r.msg }, { closeWaitMs: 100 });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ window: 1 });
    cleanup.push(() => client.destroy());
    const ac = new AbortController();
    const hung = client.call('hang', undefined, { signal: ac.signal }).catch((e) => e);
    const next = client.call('echo', u32(5));
    expect(client.queued).toBe(1);
    ac.abort();
    expect((await hung).code).toBe(ErrorCode.Cancelled);
    expect(readU32((await next).msg)).toBe(5);
  });

  it('rejects a call with an already-aborted signal without sending it', async () => {
    let handled = 0;
    const s = await startServer({ 1: () => void handled++ });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.close());
    await expect(client.call(1, undefined, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    await client.call(1);
    expect(handled).toBe(1);
  });

  it('counts only calls still waiting against maxQueued: aborted and timed-out ones leave room at once', async () => {
    const s = await startServer({ hang: () => new Promise(() => {}) }, { closeWaitMs: 100 });
    cleanup.push(() => s.server.close());
    const clock = new ManualClock();
    const client = await s.connect({ window: 1, maxQueued: 3, clock, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const held = client.call('hang').catch((e) => e); // fills the window
    const acs = [0, 1, 2].map(() => new AbortController());
    const aborted = acs.map((ac) => client.call('hang', undefined, { signal: ac.signal }).catch((e) => e));
    expect(client.queued).toBe(3);
    for (const ac of acs) ac.abort();
    expect(client.queued).toBe(0);
    expect((await Promise.all(aborted)).map((e) => e.code)).toEqual([ErrorCode.Cancelled, ErrorCode.Cancelled, ErrorCode.Cancelled]);
    // Room for three again, and only three.
    const timed = [0, 1, 2].map(() => client.call('hang', undefined, { timeoutMs: 100 }).catch((e) => e));
    expect(client.queued).toBe(3);
    await expect(client.call('hang')).rejects.toMatchObject({ code: ErrorCode.Overloaded });
    clock.advance(200);
    expect((await Promise.all(timed)).map((e) => [e.code, e.retry])).toEqual([0, 1, 2].map(() => [ErrorCode.Timeout, 'safe']));
    expect(client.queued).toBe(0);
    const again = [0, 1, 2].map(() => client.call('hang').catch((e) => e));
    expect(client.queued).toBe(3);
    client.destroy();
    expect((await Promise.all([held, ...again])).map((e) => e.code)).toEqual([0, 1, 2, 3].map(() => ErrorCode.IO));
  });

  it('rejects with Overloaded once the waiting queue is full', async () => {
    const s = await startServer({ hang: () => new Promise(() => {}) }, { closeWaitMs: 100 });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ window: 1, maxQueued: 2 });
    cleanup.push(() => client.destroy());
    const held = [client.call('hang'), client.call('hang'), client.call('hang')].map((p) => p.catch((e) => e));
    await expect(client.call('hang')).rejects.toMatchObject({ code: ErrorCode.Overloaded });
    client.destroy();
    await Promise.all(held);
  });
});

describe('closing the stream', () => {
  it('lets in-flight calls finish and rejects new ones with Closed', async () => {
    const gate = deferred();
    const s = await startServer({ wait: async (r) => (await gate.promise, r.msg) });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ window: 2 });
    const calls = [1, 2, 3].map((i) => client.call('wait', u32(i)));
    const closing = client.close();
    expect(client.state).toBe('closing');
    await expect(client.call('wait')).rejects.toMatchObject({ code: ErrorCode.Closed });
    gate.resolve();
    const replies = await Promise.all(calls);
    expect(replies.map((r) => readU32(r.msg))).toEqual([1, 2, 3]);
    await within(closing, 5000, 'close');
    expect(client.state).toBe('closed');
  });
});
