import { FrameError } from '@skein/core';
import { CallHeadError, NO_METADATA, decodeCallHead, type Metadata } from '../wire/call-head.js';
import { describeHeadOver, headOver, type HeadOver } from '../wire/head-size.js';
import { REPLY_METADATA_FLAG } from '../wire/reply-metadata.js';
import { RESPONSE_HEADER_LENGTH } from '../wire/protocol.js';
import { notifyGuarded, type CallbackHost } from '../internals/notify-guarded.js';

/**
 * What keeps a reply head for the answer that follows it: a pending call (Call), or an open
 * stream, whose answer is its end (StreamCall).
 */
export interface ReplyMetadataReader {
  readonly seq: number;
  // The rest @internal, as on StreamCall: stripInternal leaves `implements ReplyMetadataReader`
  // in the published types, which must then ask no member it left out there (TS2420).
  /** @internal Its caller's `CallOptions.onReplyMetadata`: without one, a head is checked and not decoded. */
  readonly onReplyMetadata: ((metadata: Metadata) => void) | undefined;
  /** @internal The head that came, decoded, until its answer tells it (`tellReplyMetadata`). */
  replyMetadata: Metadata | undefined;
}

/** The bounds the hello's answer set (ClientHello's; wire/reply-metadata.ts, `replyMetadataRead`). */
export interface ReplyMetadataBounds {
  /** The largest head read, 0 when the hello agreed none: past it, the server is a broken one. */
  readonly replyMetadataMax: number;
  /** The largest told to callers (the client's own bound): one between the two is an older server's, dropped. */
  readonly replyMetadataTold: number;
  /** Such a drop was logged on this connection: said once per connection, not per head. */
  replyMetadataDropSaid: boolean;
}

/**
 * A reply head for a pending call or an open stream (`reader`, wire/reply-metadata.ts), at
 * `bytes[start, end)`: kept on it for its answer, which follows. `bounds`: what the hello
 * agreed. One not agreed, over `replyMetadataMax` or that does not parse is a broken server's:
 * it throws a FrameError, which closes the connection (the calls and streams on it fail IO), as
 * any frame a hello did not agree does. One within it but over `replyMetadataTold` (a server
 * from before kind 27's value, holding heads to 8 KiB whatever the client announced) is dropped:
 * its caller is told an empty record, as from a server that sends none, and the connection goes
 * on; the first such drop of the connection is logged (warn) through `host`, so that a caller
 * told empty records can learn why. Decoded only for a reader with `onReplyMetadata`.
 */
export function readReplyMetadata(reader: ReplyMetadataReader, bounds: ReplyMetadataBounds, host: CallbackHost, bytes: Uint8Array, start: number, end: number, what: 'call' | 'stream' = 'call'): void {
  const max = bounds.replyMetadataMax;
  if (max === 0) throw new FrameError(`reply metadata (flag ${REPLY_METADATA_FLAG}) from a server whose hello did not agree it: an extension frame not agreed`);
  const at = start + RESPONSE_HEADER_LENGTH;
  // Counted before anything is decoded, as a server counts a call head.
  const over = headOver(bytes, at, end, max);
  if (over !== undefined) throw new FrameError(`reply metadata of ${describeHeadOver(over)} for ${what} ${reader.seq} exceeds the ${max} this client reads (its limits.maxReplyMetadata, within its limits.maxMessage)`);
  if (reader.onReplyMetadata === undefined) return;
  // Over its own bound, from a server that may be an older one: not its caller's to read.
  if (bounds.replyMetadataTold < max) {
    const overOwn = headOver(bytes, at, end, bounds.replyMetadataTold);
    if (overOwn !== undefined) return droppedOverOwn(bounds, host, overOwn, what, reader.seq);
  }
  try {
    reader.replyMetadata = decodeCallHead(bytes, at, end).metadata;
  } catch (err) {
    if (err instanceof CallHeadError) throw new FrameError(`reply metadata for ${what} ${reader.seq}: ${err.message}`);
    throw err;
  }
}

/** A head over the client's own bound was dropped (see `readReplyMetadata`): the first of the connection is logged. */
function droppedOverOwn(bounds: ReplyMetadataBounds, host: CallbackHost, over: HeadOver, what: 'call' | 'stream', seq: number): void {
  if (bounds.replyMetadataDropSaid) return;
  bounds.replyMetadataDropSaid = true;
  host.logger.warn(
    { remote: host.remote, [what]: seq },
    `reply metadata of ${describeHeadOver(over)} for ${what} ${seq} dropped, its onReplyMetadata told an empty record: over this client's limits.maxReplyMetadata (${bounds.replyMetadataTold}), from a server whose hello answer did not say it holds handlers to that bound (a Skein server from before the option, which holds them to 8 KiB). Said once per connection`,
  );
}

/**
 * The server's answer (a stream's end) came: `reader`'s `onReplyMetadata` is told the metadata
 * that came with it (empty when none did), once, before it settles. Its caller's callback: one
 * that throws is logged through `host`, naming `action`, and what it settles goes on.
 */
export function tellReplyMetadata(reader: ReplyMetadataReader, host: CallbackHost, action: string | number, what: 'call' | 'stream'): void {
  const md = reader.replyMetadata ?? NO_METADATA;
  reader.replyMetadata = undefined;
  notifyGuarded(host.logger, host.remote, action, reader.onReplyMetadata!, md, undefined, what === 'call' ? CALL_MD_THREW : STREAM_MD_THREW);
}

/** What a throwing `onReplyMetadata` is logged with: constants, so that telling builds no string per answer. */
export const CALL_MD_THREW = "a call's onReplyMetadata threw: its call settles as answered, the connection goes on";
const STREAM_MD_THREW = "a stream's onReplyMetadata threw: its stream settles as answered, the connection goes on";
