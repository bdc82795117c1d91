import { ErrorCode, RpcError } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { Metadata } from '../src/index.js';
import { ReplyMetadata } from '../src/server/reply-metadata.js';
import { isAsciiReplyHead } from '../src/wire/ascii-reply-head.js';
import { decodeCallHead, encodeCallHead } from '../src/wire/call-head.js';
import { bytes, startServer } from './harness.js';

/*
 * A reply head made elsewhere (a WorkerPool's worker encodes what its handler set) set on the
 * server's thread (`ServerRequest.setReplyMetadataHead` → `ReplyMetadata.setFrom`): checked
 * against the client's bound as it is now, and kept as it came when it decodes as it is, rather
 * than decoded and encoded again.
 */

const head = (entries: Record<string, string>): Uint8Array => encodeCallHead(undefined, entries).slice();
const entriesOf = (b: Uint8Array | undefined) => ({ ...decodeCallHead(b!, 0, b!.length).metadata });
/** What `setFrom` throws, or undefined. */
const thrown = (f: () => void): unknown => {
  try {
    f();
    return undefined;
  } catch (err) {
    return err;
  }
};

describe('ReplyMetadata.setFrom: a reply head made elsewhere', () => {
  it('a head that decodes as it is is kept byte for byte, a copy (not a view of the batch it came in)', () => {
    const batch = new Uint8Array(100).fill(7);
    const theirs = head({ session: 's-1', 'rate-left': '99' });
    batch.set(theirs, 10);
    const md = new ReplyMetadata();
    md.setFrom(batch.subarray(10, 10 + theirs.length), 8192);
    batch.fill(0);
    expect(md.head).toEqual(theirs);
    expect(md.head!.buffer).not.toBe(batch.buffer);
  });

  it("is held to the client's bound as it is now, which may be smaller than the one its worker was told: FrameTooLarge, nothing kept, as before", () => {
    const theirs = head({ large: 'x'.repeat(2000) });
    const md = new ReplyMetadata();
    const err = thrown(() => md.setFrom(theirs, 1024));
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.FrameTooLarge, message: `reply metadata of ${theirs.length} bytes encoded exceeds the client's limit of 1024` });
    expect(md.head).toBeUndefined();
    // Its entries counted too (32 each besides their bytes), as a call head's are.
    const many = head(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'])));
    expect(thrown(() => md.setFrom(many, many.length + 32 * 39))).toMatchObject({ code: ErrorCode.FrameTooLarge, message: expect.stringMatching(/in 40 entries, counted as \d+/) });
    md.setFrom(many, many.length + 32 * 40);
    expect(md.head).toEqual(many);
  });

  it('a head that is not as encodeCallHead writes a reply head is decoded: refused InvalidArgument when it does not decode, written again when it does', () => {
    const cut = head({ k: 'v' }).subarray(0, 6);
    const emptyKey = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0x41);
    const notUtf8 = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 0x6b, 1, 0, 0xff);
    for (const bad of [cut, emptyKey, notUtf8, Uint8Array.of(1, 2)]) {
      const md = new ReplyMetadata();
      expect(isAsciiReplyHead(bad)).toBe(false);
      expect(thrown(() => md.setFrom(bad, 8192))).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/^reply metadata: /) });
      expect(md.head).toBeUndefined();
    }
    // A deadline in it (a reply head has none) and a multi-byte character: kept as encodeCallHead writes the entries.
    const withDeadline = head({ k: 'v' });
    withDeadline.set([5, 0, 0, 0], 0);
    const accented = head({ name: 'café' });
    for (const [theirs, entries] of [[withDeadline, { k: 'v' }], [accented, { name: 'café' }]] as const) {
      expect(isAsciiReplyHead(theirs)).toBe(false);
      const md = new ReplyMetadata();
      md.setFrom(theirs, 8192);
      expect(md.head).toEqual(head(entries));
    }
  });

  it('entries set after a head kept as it came, and a second head, are merged with it (a key set again takes the new value)', () => {
    const md = new ReplyMetadata();
    md.setFrom(head({ a: '1', b: '2' }), 8192);
    md.set('c', '3', 8192);
    expect(entriesOf(md.head)).toEqual({ a: '1', b: '2', c: '3' });
    md.setFrom(head({ b: 'again', d: '4' }), 8192);
    expect(entriesOf(md.head)).toEqual({ a: '1', b: 'again', c: '3', d: '4' });
    const first = new ReplyMetadata();
    first.set('mine', 'x', 8192);
    first.setFrom(head({ theirs: 'y' }), 8192);
    expect(entriesOf(first.head)).toEqual({ mine: 'x', theirs: 'y' });
  });
});

describe('isAsciiReplyHead', () => {
  it('is true for what encodeCallHead writes for a reply (no deadline, ASCII entries), empty included', () => {
    expect(isAsciiReplyHead(head({}))).toBe(true);
    expect(isAsciiReplyHead(head({ k: 'v', 'x-empty': '', long: 'z'.repeat(300) }))).toBe(true);
  });
});

const cleanup = cleanups();

describe('ServerRequest.replyMetadataHead', () => {
  it('is a copy of the head set so far: a handler that writes into it changes nothing its client is sent, and the connection goes on', async () => {
    const read: (Uint8Array | undefined)[] = [];
    const s = await startServer({
      scribble: (req) => {
        read.push(req.replyMetadataHead);
        req.setReplyMetadata('session', 's-1');
        const mine = req.replyMetadataHead!;
        read.push(mine.slice());
        // Every key length 255, past the head's end: a head no client parses, had it been sent.
        mine.fill(0xff, 4);
        return bytes(3);
      },
    });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const told: Metadata[] = [];
    const onReplyMetadata = (md: Metadata) => told.push({ ...md });
    expect((await client.call('scribble', undefined, { onReplyMetadata })).msg).toEqual(bytes(3));
    expect((await client.call('scribble', undefined, { onReplyMetadata })).msg).toEqual(bytes(3));
    expect(told).toEqual([{ session: 's-1' }, { session: 's-1' }]);
    expect(read.slice(0, 2)).toEqual([undefined, head({ session: 's-1' })]);
  });
});
