import { ErrorCode } from '@skein/core';
import { cleanups, deferred, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type Metadata, type ServerRequest } from '../src/index.js';
import { decodeHello, receiveLimitsEntry } from '../src/wire/hello.js';
import { ACTION_STRING_BIT } from '../src/wire/protocol.js';
import { reverseOfferEntry } from '../src/wire/reverse-calls.js';
import { REVERSE_CONTROL_ENTRY } from '../src/wire/reverse-control.js';
import { HEADED_REVERSE_CALL_FLAG, REVERSE_HEADS_ANSWER_ENTRY, REVERSE_HEADS_KIND, reverseHeadsOfferEntry } from '../src/wire/reverse-heads.js';
import { encodeCallHead } from '../src/wire/call-head.js';
import { answersIn, callerOf, scriptedReverseServer, sendBy } from './reverse-harness.js';
import { helloOffer, olderClientTransport, rawPeer, readU32, recordingTransport, requestFrames, responseFrame, responseFrames, startServer, transport, u32 } from './harness.js';

/*
 * Metadata on reverse calls (docs/protocol.md, "Calls both ways"; wire/reverse-heads.ts): the
 * server's caller passes a call's metadata, and the connecting side's handler sees it as a server
 * handler sees a forward call's; both sides bound the head as forward heads are bounded; a side
 * that did not offer hello kind 23 (an older Skein client) is never sent a headed frame.
 */

const cleanup = cleanups();
const MiB = 1024 * 1024;
const utf8 = new TextEncoder();

/** `n` entries of a four-byte key and no value: few bytes, many entries (each counted 32 more). */
const manyEntries = (n: number): Metadata => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${String(i).padStart(3, '0')}`, '']));

/** A headed reverse call as a server sends it: `head_len u32 | head | action u32 | action | msg`. */
function headedCall(seq: number, action: string, head: Uint8Array, msg = new Uint8Array(0)): Uint8Array {
  const name = utf8.encode(action);
  const body = new Uint8Array(4 + head.length + 4 + name.length + msg.length);
  const view = new DataView(body.buffer);
  view.setUint32(0, head.length, true);
  body.set(head, 4);
  view.setUint32(4 + head.length, (ACTION_STRING_BIT | name.length) >>> 0, true);
  body.set(name, 8 + head.length);
  body.set(msg, 8 + head.length + name.length);
  return responseFrame(HEADED_REVERSE_CALL_FLAG, seq, body);
}

/** What a handler saw of its call: its metadata record, and whether it came with a deadline. */
type Seen = { metadata: Metadata; deadline: number | undefined };
const seenBy = (into: Seen[]) => (req: ServerRequest) => (into.push({ metadata: req.metadata, deadline: req.deadline }), req.msg);

describe('metadata on reverse calls, between a Skein server and a Skein client', () => {
  it("reaches the serving side's handler exactly as a forward call's reaches a server's, and is on the wire as docs/protocol.md shows", async () => {
    const rec = recordingTransport();
    const forward: Seen[] = [];
    const server = new RpcServer({ dispatch: createRouter({ 'f.x': seenBy(forward) }) });
    cleanup.push(() => server.close());
    const a = (await server.listen(rec.transport, '127.0.0.1:0')) as { port: number };
    const reverse: Seen[] = [];
    const peer = await ClientStream.connect({ transport: rec.transport, address: `127.0.0.1:${a.port}`, keepaliveMs: 0, serveWindow: 2, serve: createRouter({ 'p.x': seenBy(reverse) }) });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    const caller = await callerOf(server);
    const metadata = { authorization: 'Bearer t' };
    expect(readU32(await sendBy(caller, 'p.x', new Uint8Array([1, 2, 0, 0]), { metadata }))).toBe(0x201);
    // The same, the other way; then a call of each with none.
    await peer.call('f.x', new Uint8Array(0), { metadata });
    await sendBy(caller, 'p.x', u32(2));
    await peer.call('f.x', new Uint8Array(0));
    const [rev, plainRev] = reverse.map((x) => x.metadata);
    const [fwd, plainFwd] = forward.map((x) => x.metadata);
    expect(Object.entries(rev!)).toEqual([['authorization', 'Bearer t']]);
    expect(Object.entries(rev!)).toEqual(Object.entries(fwd!));
    // The same kind of record: frozen, on the shared prototype that inherits nothing.
    expect(Object.isFrozen(rev)).toBe(true);
    expect(Object.getPrototypeOf(rev)).toBe(Object.getPrototypeOf(fwd));
    expect((rev as Record<string, unknown>).constructor).toBeUndefined();
    // A call without metadata: the one empty record a forward call without any has.
    expect(plainRev).toBe(plainFwd);
    expect(reverse[0]!.deadline).toBeTypeOf('number');
    const wire = Buffer.concat(rec.writes).toString('hex');
    // Offer: kind 20 (window 2), kind 22, kind 23 with max_head 8192. Answer: kind 20, kind 22, kind 23 empty.
    expect(wire).toContain('1400' + '0400' + '02000000' + '1600' + '0000' + '1700' + '0400' + '00200000');
    expect(wire).toContain('1400' + '0800' + '00000001' + '00000004' + '1600' + '0000' + '1700' + '0000');
    // The headed reverse call: flag 0x1C, seq 1, msg = head_len (28) | head (20 000 ms left;
    // authorization = "Bearer t", as a forward head's entries) | action u32 | "p.x" | msg.
    expect(wire).toContain(
      '254d011c' + '2b000000' + '0100000000000000' + '00000000' + '1c000000' + '204e0000' + '0d' + '617574686f72697a6174696f6e' + '0800' + '4265617265722074' + '03000080' + '702e78' + '01020000',
    );
    // The call without metadata went as a timed one (flag 0x1A), as before.
    expect(wire).toContain('254d011a' + '0f000000' + '0200000000000000');
  });

  it("refuses, unsent, a call whose head is over what the serving side offered, its entries counted as that side counts them; the connection goes on", async () => {
    const rec = recordingTransport();
    const server = new RpcServer({ dispatch: createRouter({}) });
    cleanup.push(() => server.close());
    const a = (await server.listen(rec.transport, '127.0.0.1:0')) as { port: number };
    const reverse: Seen[] = [];
    const peer = await ClientStream.connect({ transport: rec.transport, address: `127.0.0.1:${a.port}`, keepaliveMs: 0, serve: createRouter({ 'p.x': seenBy(reverse) }) });
    cleanup.push(() => peer.destroy());
    const caller = await callerOf(server);
    expect(caller.maxHead).toBe(8192);
    // 2,104 bytes in 300 entries: under 8 KiB by its bytes, over it counted (11,704).
    await expect(sendBy(caller, 'p.x', u32(1), { metadata: manyEntries(300) })).rejects.toMatchObject({
      code: ErrorCode.FrameTooLarge,
      message: expect.stringMatching(/^metadata of 2104 bytes encoded in 300 entries, counted as 11704 \(32 an entry besides its bytes\) exceeds .*'s limit of 8192: reverse call not sent$/),
    });
    await expect(sendBy(caller, 'p.x', u32(2), { metadata: { big: 'v'.repeat(9000) } })).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge, message: expect.stringMatching(/^metadata of 9010 bytes encoded exceeds .*'s limit of 8192: reverse call not sent$/) });
    expect(readU32(await sendBy(caller, 'p.x', u32(3), { metadata: manyEntries(2) }))).toBe(3);
    await peer.ping();
    expect(reverse.map((x) => Object.keys(x.metadata))).toEqual([['k000', 'k001']]);
    // Only the third went: one headed frame on the wire, seq 1.
    const wire = Buffer.concat(rec.writes).toString('hex');
    expect(wire.split('254d011c').length - 1).toBe(1);
    expect(wire).toContain('254d011c' + '21000000' + '0100000000000000');
    expect([caller.inFlight, peer.state]).toEqual([0, 'open']);
  });

  it('names reverse call heads again in its answer to a later hello, which cannot take them back', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const peer = rawPeer(s.address, cleanup);
    peer.send(helloOffer([receiveLimitsEntry(MiB, MiB), reverseOfferEntry(1), REVERSE_CONTROL_ENTRY, reverseHeadsOfferEntry(100)]));
    peer.send(helloOffer([receiveLimitsEntry(MiB, MiB)]));
    const answers = await waitFor(() => {
      const got = responseFrames(peer.received()).filter((f) => f.seq === 0);
      return got.length === 2 ? got : undefined;
    });
    for (const a of answers) expect(decodeHello(a.body, 0, a.body.length).entries.map((e) => e.kind)).toContain(REVERSE_HEADS_KIND);
    expect((await callerOf(s.server)).maxHead).toBe(100);
  });
});

describe('the serving side, against a server that sends heads', () => {
  it("refuses a head over its max_head per call, FrameTooLarge, its entries counted (and one that does not parse, Decode), and keeps the connection", async () => {
    const srv = await scriptedReverseServer(cleanup, [REVERSE_CONTROL_ENTRY, REVERSE_HEADS_ANSWER_ENTRY]);
    const reverse: Seen[] = [];
    const peer = await ClientStream.connect({ transport, address: srv.address, keepaliveMs: 0, serve: createRouter({ 'p.x': seenBy(reverse) }) });
    cleanup.push(() => peer.destroy());
    const sock = await srv.socket;
    await waitFor(() => requestFrames(srv.received()).length >= 1, { what: 'the hello read' });
    // Counted over (2,104 bytes in 300 entries: 11,704), over by its bytes alone, an entry cut
    // short, too short for its remaining time, then one that fits.
    sock.write(headedCall(1, 'p.x', encodeCallHead(60_000, manyEntries(300)).slice(), u32(1)));
    sock.write(headedCall(2, 'p.x', encodeCallHead(60_000, { big: 'v'.repeat(9000) }).slice(), u32(2)));
    sock.write(headedCall(3, 'p.x', new Uint8Array([0x60, 0xea, 0, 0, 5, 0x61]), u32(3)));
    sock.write(headedCall(4, 'p.x', new Uint8Array([0x60, 0xea]), u32(4)));
    sock.write(headedCall(5, 'p.x', encodeCallHead(60_000, { a: '1' }).slice(), u32(5)));
    await waitFor(() => answersIn(srv.received()).length === 5, { what: 'all five answered' });
    expect(answersIn(srv.received())).toEqual([
      { seq: 1, flag: 2, text: "rpc_frame_too_large:call head of 2104 bytes in 300 entries, counted as 11704 (32 an entry besides its bytes) exceeds this side's 8192" },
      { seq: 2, flag: 2, text: "rpc_frame_too_large:call head of 9010 bytes exceeds this side's 8192" },
      { seq: 3, flag: 2, text: 'rpc_decode:call head entry cut short' },
      { seq: 4, flag: 2, text: 'rpc_decode:call head of 2 bytes is shorter than 4' },
      { seq: 5, flag: 0, text: undefined },
    ]);
    expect(reverse.map((x) => ({ ...x.metadata }))).toEqual([{ a: '1' }]);
    expect(reverse[0]!.deadline).toBeTypeOf('number');
    expect(peer.state).toBe('open');
  });

  it('closes on a headed call from a server whose hello did not agree heads (a broken server), as on any unknown flag', async () => {
    const srv = await scriptedReverseServer(cleanup, [REVERSE_CONTROL_ENTRY]);
    let ran = 0;
    const closed = deferred<Error | undefined>();
    const peer = await ClientStream.connect({ transport, address: srv.address, keepaliveMs: 0, serve: createRouter({ 'p.x': () => void ran++ }), onClose: (err) => closed.resolve(err) });
    cleanup.push(() => peer.destroy());
    const sock = await srv.socket;
    sock.write(headedCall(1, 'p.x', encodeCallHead(60_000, { a: '1' }).slice(), u32(1)));
    // Whichever comes first: the close, or the call run.
    await waitFor(() => peer.state !== 'open' || ran !== 0, { what: 'the close' });
    expect(ran).toBe(0);
    expect((await closed.promise)?.message).toMatch(/reverse call head on a connection whose hello did not agree them/);
  });

  it('closes on a headed call whose head_len runs past its message (a broken server)', async () => {
    const srv = await scriptedReverseServer(cleanup, [REVERSE_CONTROL_ENTRY, REVERSE_HEADS_ANSWER_ENTRY]);
    let ran = 0;
    const closed = deferred<Error | undefined>();
    const peer = await ClientStream.connect({ transport, address: srv.address, keepaliveMs: 0, serve: createRouter({ 'p.x': () => void ran++ }), onClose: (err) => closed.resolve(err) });
    cleanup.push(() => peer.destroy());
    const sock = await srv.socket;
    const frame = headedCall(1, 'p.x', encodeCallHead(60_000, { a: '1' }).slice(), u32(1));
    // head_len, right after the 20-byte header: one byte more than the whole message holds after it.
    new DataView(frame.buffer).setUint32(20, frame.length - 20 - 4 + 1, true);
    sock.write(frame);
    await waitFor(() => peer.state !== 'open' || ran !== 0, { what: 'the close' });
    expect(ran).toBe(0);
    expect((await closed.promise)?.message).toMatch(/headed reverse call with a head of \d+ bytes in a message of \d+/);
  });
});

describe('a connecting side that does not offer heads', () => {
  it('an older Skein client (kinds 20 and 22, no 23) is never sent a headed frame: the call goes timed, without its metadata', async () => {
    const s = await startServer({});
    cleanup.push(() => s.server.close());
    const reverse: Seen[] = [];
    const peer = await ClientStream.connect({ transport: olderClientTransport(REVERSE_HEADS_KIND), address: s.address, keepaliveMs: 0, serve: createRouter({ 'p.x': seenBy(reverse) }) });
    cleanup.push(() => peer.destroy());
    const caller = await callerOf(s.server);
    expect([caller.controls, caller.maxHead]).toEqual([true, 0]);
    // Sent as to a razor v1 server a forward call's metadata: there is nowhere to put it.
    expect(readU32(await sendBy(caller, 'p.x', u32(7), { metadata: { authorization: 'Bearer t' } }))).toBe(7);
    expect(Object.keys(reverse[0]!.metadata)).toEqual([]);
    expect(reverse[0]!.deadline).toBeTypeOf('number');
    expect(peer.state).toBe('open');
  });
});
