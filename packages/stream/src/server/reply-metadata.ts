import { ErrorCode, RpcError, invalidArgument } from '@skein/core';
import { isAsciiReplyHead } from '../wire/ascii-reply-head.js';
import { CallHeadError, decodeCallHead, encodeCallHead, type Metadata } from '../wire/call-head.js';
import { describeHeadOver, headOver, type HeadOver } from '../wire/head-size.js';

/**
 * The metadata a handler sets on its reply (`ServerRequest.setReplyMetadata`), encoded as it is
 * set: each entry is checked then, against the wire's rules and the client's bound, so that a
 * handler hears of one that cannot go (a typed error it can catch) while it can still answer,
 * and what is kept always fits the frame that carries it.
 */
export class ReplyMetadata {
  /**
   * The entries kept, each own and inheriting nothing (a key like "__proto__" stays data, as in a
   * call's metadata); undefined with none, or with a `head` kept as it came (`setFrom`), whose
   * entries are read from it only if another entry is set after it.
   */
  private entries: Metadata | undefined = undefined;
  /** The entries as a reply head (wire/reply-metadata.ts): a call head without a deadline. */
  head: Uint8Array | undefined = undefined;

  /**
   * Sets `key` to `value` (a key set again takes the new value). Throws InvalidArgument for an
   * entry no head carries (a key that is no string of 1 to 255 bytes, a value that is no string
   * of at most 65,535), FrameTooLarge when the head would be over `room`, counted as a call head
   * is (its bytes and 32 an entry): the entry is then not kept, the others are.
   */
  set(key: string, value: string, room: number): void {
    if (typeof key !== 'string') throw invalidArgument(`reply metadata keys are strings, got ${typeof key}`);
    const entries = Object.assign(Object.create(null) as Record<string, string>, this.kept());
    entries[key] = value;
    this.keep(entries, room);
  }

  /**
   * Sets the entries of `head`, a reply head made elsewhere (a handler's in a worker thread, as
   * its Responder's `writeReplyMetadata` got it), each as `set` would: checked again here, as a
   * whole, against `room`, and kept only if it fits. The first such head, when it decodes as it
   * is (`isAsciiReplyHead`: a worker's request encoded it so), is kept as it came, only counted
   * against `room` (which may have changed since the worker was told it): decoding and encoding
   * it again would give the same bytes (a worker never writes a key twice; a head made by hand
   * that does is counted as it is, every entry, stricter than its entries encoded again), at
   * several times the cost.
   */
  setFrom(head: Uint8Array, room: number): void {
    if (this.head === undefined && isAsciiReplyHead(head)) return this.keepAsSent(head, room);
    let theirs: Record<string, string>;
    try {
      theirs = decodeCallHead(head, 0, head.length).metadata as Record<string, string>;
    } catch (err) {
      if (err instanceof CallHeadError) throw invalidArgument(`reply metadata: ${err.message}`);
      throw err;
    }
    this.keep(Object.assign(Object.create(null) as Record<string, string>, this.kept(), theirs), room);
  }

  /** The entries kept so far, read from a head kept as it came the first time they are needed. */
  private kept(): Metadata | undefined {
    if (this.entries === undefined && this.head !== undefined) this.entries = decodeCallHead(this.head, 0, this.head.length).metadata;
    return this.entries;
  }

  /** Keeps `head` (checked to decode: `isAsciiReplyHead`) when it is within `room`; else throws, and nothing changes. */
  private keepAsSent(head: Uint8Array, room: number): void {
    const over = headOver(head, 0, head.length, room);
    if (over !== undefined) throw tooLarge(over, room);
    // Copied: kept until the call is answered, a view would hold the whole batch of answers it came in.
    this.head = head.slice();
    this.entries = undefined;
  }

  /** Keeps `entries` when their head is within `room`; else throws, and what was kept stays. */
  private keep(entries: Record<string, string>, room: number): void {
    let head: Uint8Array;
    try {
      // Copied: kept until the call is answered, a view would hold the whole shared chunk it was written into.
      head = encodeCallHead(undefined, entries).slice();
    } catch (err) {
      if (err instanceof CallHeadError) throw invalidArgument(`reply metadata: ${err.message}`);
      throw err;
    }
    const over = headOver(head, 0, head.length, room);
    if (over !== undefined) throw tooLarge(over, room);
    this.entries = entries;
    this.head = head;
  }
}

const tooLarge = (over: HeadOver, room: number): RpcError => new RpcError(ErrorCode.FrameTooLarge, `reply metadata of ${describeHeadOver(over, 'bytes encoded')} exceeds the client's limit of ${room}`);
