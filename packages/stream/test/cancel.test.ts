import { ErrorCode, RpcError } from '@skein/core';
import { deferred, fromHex, portOf, rawConnect, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { ServerRequest } from '../src/index.js';
import { RESPONSE_HEADER_LENGTH, readRequestHeader, readResponseHeader } from '../src/wire/protocol.js';
import { CANCEL_ACTION, HEAD_ACTION } from '../src/wire/extension-frames.js';
import { olderClientTransport, recordingTransport, startServer, transport, u32 } from './harness.js';
import { golden } from './golden.js';
import { ClientStream } from '../src/index.js';
import { RpcServer, createRouter } from '../src/index.js';

const cleanup = cleanups();

/** The actions of the requests a recording transport saw (headers only: parts of 32 bytes that start with the magic). */
const actionsOf = (writes: Uint8Array[]): number[] =>
  writes.filter((w) => w.length >= 32 && w[0] === 0x25 && w[1] === 0x4d && w[2] === 1).map((w) => readRequestHeader(w).action);

describe('cancelling a call', () => {
  it('before it is sent: fails at once, and nothing goes on the wire', async () => {
    const rec = recordingTransport();
    const server = new RpcServer({ dispatch: createRouter({ 1: () => u32(1) }) });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const client = await ClientStream.connect({ transport: rec.transport, address: `127.0.0.1:${portOf(a)}` });
    cleanup.push(() => client.close());
    await client.ping();
    const before = rec.writes.length;
    const err = await client.call(1, undefined, { signal: AbortSignal.abort() }).catch((e: RpcError) => e);
    expect((err as RpcError).code).toBe(ErrorCode.Cancelled);
    expect(rec.writes.length).toBe(before);
  });

  it("carries the signal's reason as its cause: a reason given to abort(), or the DOMException abort() made where it was called", async () => {
    const gate = deferred<void>();
    const server = new RpcServer({ dispatch: createRouter({ 1: async () => (await gate.promise, u32(1)) }) });
    cleanup.push(() => (gate.resolve(), server.close()));
    const a = await server.listen(transport, '127.0.0.1:0');
    const client = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}` });
    cleanup.push(() => client.close());
    const why = new Error('the user left');
    const given = new AbortController();
    const mine = client.call(1, undefined, { signal: given.signal }).catch((e: RpcError) => e);
    const plain = new AbortController();
    // Two calls on one signal: the second listens through the signal's shared list.
    const shared = [0, 1].map(() => client.call(1, undefined, { signal: plain.signal }).catch((e: RpcError) => e));
    await client.ping();
    given.abort(why);
    plain.abort();
    for (const err of [await mine, ...(await Promise.all(shared))] as RpcError[]) {
      expect(err.code).toBe(ErrorCode.Cancelled);
    }
    expect(((await mine) as RpcError).cause).toBe(why);
    for (const err of (await Promise.all(shared)) as RpcError[]) {
      expect(err.cause).toBe(plain.signal.reason);
      // Where abort() was called: this file.
      expect((err.cause as Error).stack).toMatch(/cancel\.test\.ts/);
    }
    // Aborted before the call: refused at once, with the reason all the same.
    const late = (await client.call(1, undefined, { signal: given.signal }).catch((e: RpcError) => e)) as RpcError;
    expect(late.cause).toBe(why);
  });

  it('while queued for the window: never sent, and no cancel frame either', async () => {
    const rec = recordingTransport();
    const gate = deferred<void>();
    let started = 0;
    const server = new RpcServer({ dispatch: createRouter({ 1: async () => (started++, await gate.promise, u32(1)) }) });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const client = await ClientStream.connect({ transport: rec.transport, address: `127.0.0.1:${portOf(a)}`, window: 1 });
    cleanup.push(() => client.close());
    await client.ping();
    const first = client.call(1);
    const ac = new AbortController();
    const queued = client.call(1, undefined, { signal: ac.signal }).catch((e: RpcError) => e);
    expect(client.queued).toBe(1);
    ac.abort();
    expect(((await queued) as RpcError).code).toBe(ErrorCode.Cancelled);
    expect(client.queued).toBe(0);
    gate.resolve();
    await first;
    expect(started).toBe(1);
    expect(actionsOf(rec.writes).filter((x) => x === CANCEL_ACTION || x === HEAD_ACTION)).toEqual([]);
  });

  it('on one signal with the call on the wire ahead of it: the slot that call frees does not send it on its way out', async () => {
    let started = 0;
    const hold = async (req: ServerRequest) => (started++, await new Promise((r) => req.signal.addEventListener('abort', r)), u32(1));
    const s = await startServer({ hold, ok: () => u32(2) }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ window: 1, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    await client.ping();
    const ac = new AbortController();
    const first = client.call('hold', undefined, { signal: ac.signal }).catch((e: RpcError) => e);
    await waitFor(() => started === 1, { what: 'the first handler' });
    const queued = client.call('hold', undefined, { signal: ac.signal }).catch((e: RpcError) => e);
    expect(client.queued).toBe(1);
    ac.abort();
    for (const err of [await first, await queued] as RpcError[]) expect(err.code).toBe(ErrorCode.Cancelled);
    // Answered only once every request before it was read: the queued one, had it gone, would have started.
    expect((await client.call('ok')).msg).toEqual(u32(2));
    expect(started).toBe(1);
  });

  it('in flight: the server\'s signal fires, the reply is dropped and the slot freed though the handler ignores it', async () => {
    const aborted = deferred<unknown>();
    let seen: ServerRequest | undefined;
    let hanging = 0;
    const s = await startServer(
      {
        // Ignores its signal and never answers.
        1: (req) => {
          seen = req;
          req.signal.addEventListener('abort', () => aborted.resolve(req.signal.reason));
          return new Promise(() => {});
        },
        3: () => (hanging++, new Promise(() => {})),
        2: () => u32(2),
      },
      // Two requests at a time (at the cap the server stops reading, cancels too): a slot the
      // cancel did not free would leave call 2 unread behind calls 1 and 3.
      { maxInFlightPerConn: 2, closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.destroy());
    await client.ping();
    const ac = new AbortController();
    const call = client.call(1, undefined, { signal: ac.signal }).catch((e: RpcError) => e);
    await waitFor(() => seen, { what: 'the handler' });
    ac.abort();
    expect(((await call) as RpcError).code).toBe(ErrorCode.Cancelled);
    const reason = (await aborted.promise) as RpcError;
    expect(reason.code).toBe(ErrorCode.Cancelled);
    expect(seen!.isAnswered).toBe(true);
    void client.call(3).catch(() => {});
    await waitFor(() => hanging === 1, { what: 'call 3' });
    expect((await client.call(2)).msg).toEqual(u32(2));
    // A late answer of the cancelled handler goes nowhere.
    seen!.reply(u32(9));
    expect((await client.call(2)).msg).toEqual(u32(2));
  });

  it('the cancel frame goes only for a call that went with a head, to a peer that agreed it', async () => {
    const rec = recordingTransport();
    const started = deferred<void>();
    const server = new RpcServer({ dispatch: createRouter({ 1: () => (started.resolve(), new Promise(() => {})) }) });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const client = await ClientStream.connect({ transport: rec.transport, address: `127.0.0.1:${portOf(a)}` });
    cleanup.push(() => client.destroy());
    await client.ping();
    const ac = new AbortController();
    const call = client.call(1, undefined, { signal: ac.signal }).catch((e: RpcError) => e);
    await started.promise;
    ac.abort();
    await call;
    const actions = actionsOf(rec.writes);
    expect(actions.slice(-3)).toEqual([HEAD_ACTION, 1, CANCEL_ACTION]);
  });

  it('a call that timed out while unread on the server is cancelled there as soon as it is read, not run for its whole deadline', async () => {
    // The server handles one call at a time and holds the next, reading nothing more: the third
    // call waits unread in its socket while the client gives up on it. Its deadline runs from
    // when the server reads it; the cancel written at the timeout, right behind it, stops it then.
    const gate = deferred<void>();
    const running = deferred<void>();
    const reason = deferred<unknown>();
    const s = await startServer(
      {
        1: async () => (running.resolve(), await gate.promise, u32(1)),
        2: () => u32(2),
        3: (req) => (req.signal.addEventListener('abort', () => reason.resolve(req.signal.reason)), new Promise(() => {})),
      },
      { maxInFlightPerConn: 1, closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    // An older client (no kind 24): its window is not narrowed to the server's cap.
    const client = await ClientStream.connect({ transport: olderClientTransport(24), address: s.address, window: 3, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    await client.ping();
    const first = client.call(1);
    await running.promise;
    const second = client.call(2);
    const late = (await client.call(3, undefined, { timeoutMs: 300 }).catch((e: RpcError) => e)) as RpcError;
    expect(late.code).toBe(ErrorCode.Timeout);
    gate.resolve();
    expect((await first).msg).toEqual(u32(1));
    expect((await second).msg).toEqual(u32(2));
    expect(((await reason.promise) as RpcError).code).toBe(ErrorCode.Cancelled);
  });
});

describe('a call with a signal made before the hello is answered', () => {
  // connect() resolves once the hello is written, before its answer can be read: a call made at
  // once meets a peer whose dialect is unknown. It waits for the answer, so that it goes with a
  // head (the server tracks only those for a cancel), or ends unsent if aborted before.
  async function fresh() {
    const seen: ServerRequest[] = [];
    const s = await startServer({ 1: (req) => (seen.push(req), new Promise(() => {})), 2: () => u32(2) }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.destroy());
    expect(client.hello.dialect).toBe('pending');
    return { client, seen };
  }

  it('aborted once its handler runs: the cancel reaches the server', async () => {
    const { client, seen } = await fresh();
    const ac = new AbortController();
    const call = client.call(1, undefined, { signal: ac.signal }).catch((e: RpcError) => e);
    await waitFor(() => seen.length === 1, { what: 'the handler' });
    ac.abort();
    expect(((await call) as RpcError).code).toBe(ErrorCode.Cancelled);
    // The server reads in order: a cancel sent with the abort is read before the next call.
    expect((await client.call(2)).msg).toEqual(u32(2));
    expect(seen[0]!.signal.aborted).toBe(true);
    expect((seen[0]!.signal.reason as RpcError).code).toBe(ErrorCode.Cancelled);
  });

  it('aborted before the answer: it fails Cancelled, never sent (the handler never runs)', async () => {
    const { client, seen } = await fresh();
    const ac = new AbortController();
    const call = client.call(1, undefined, { signal: ac.signal }).catch((e: RpcError) => e);
    ac.abort();
    const err = (await call) as RpcError;
    expect(err.code).toBe(ErrorCode.Cancelled);
    expect((await client.call(2)).msg).toEqual(u32(2));
    expect(seen).toHaveLength(0);
    expect(client.inFlight).toBe(0);
  });
});

describe('a call with a head whose seq is taken by one still running', () => {
  it('is refused unrun (InvalidArgument), and the running call keeps its signal', async () => {
    const seen: ServerRequest[] = [];
    const answer = deferred<Uint8Array>();
    const s = await startServer({ hold: (req) => (seen.push(req), answer.promise) }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    // Call "hold" with a head (a signal, no deadline), seq 5; then the same again, seq 5 again.
    const call = new Uint8Array([...golden.headBare, ...fromHex('254d 01 00 04000080 0500000000000000 0000000000000000 00000000 00000000 686f6c64')]);
    peer.write(new Uint8Array([...golden.helloRequestFull, ...call, ...call]));
    const refused = () => responses(peer.received()).find((r) => r.seq === 5);
    await waitFor(() => refused() !== undefined || seen.length > 1, { what: 'the second call answered or run' });
    expect(seen).toHaveLength(1);
    const refusal = refused()!;
    expect([refusal.flag, refusal.body.startsWith('rpc_invalid_argument')]).toEqual([2, true]);
    // The first is still tracked: the connection's loss reaches its signal. (Before the second was
    // refused, it replaced the first in the table, and the first's answer untracked it: its signal
    // never fired and its connection stayed half-open for good.)
    peer.destroy();
    await waitFor(() => seen[0]!.signal.aborted, { what: 'the running call told of the loss' });
    expect((seen[0]!.signal.reason as RpcError).code).toBe(ErrorCode.IO);
  });
});

/** The responses in `bytes`, whole ones only. */
function responses(bytes: Uint8Array): { seq: number; flag: number; body: string }[] {
  const out = [];
  for (let at = 0; at + RESPONSE_HEADER_LENGTH <= bytes.length; ) {
    const h = readResponseHeader(bytes.subarray(at));
    const end = at + RESPONSE_HEADER_LENGTH + (h.flag === 1 ? 0 : h.msgLength) + h.blobLength;
    if (end > bytes.length) break;
    out.push({ seq: h.seq, flag: h.flag, body: Buffer.from(bytes.subarray(at + RESPONSE_HEADER_LENGTH, end)).toString('latin1') });
    at = end;
  }
  return out;
}
