import { FrameError } from '@skein/core';
import { CallHeadError, decodeCallHead } from '../wire/call-head.js';
import { describeHeadOver, headOver } from '../wire/head-size.js';
import { REPLY_METADATA_FLAG } from '../wire/reply-metadata.js';
import { RESPONSE_HEADER_LENGTH } from '../wire/protocol.js';
import type { Call } from './call.js';

/**
 * A reply head for a pending `call` (wire/reply-metadata.ts), at `bytes[start, end)`: kept on the
 * call for its answer, which follows. `max`: the bound the hello agreed (ClientHello's
 * `replyMetadataMax`), 0 when it agreed none. One not agreed, over that bound or that does not
 * parse is a broken server's: it throws a FrameError, which closes the connection (the calls on
 * it fail IO), as any frame a hello did not agree does. Decoded only for a call that reads it.
 */
export function readReplyMetadata(call: Call, max: number, bytes: Uint8Array, start: number, end: number): void {
  if (max === 0) throw new FrameError(`reply metadata (flag ${REPLY_METADATA_FLAG}) from a server whose hello did not agree it: an extension frame not agreed`);
  const at = start + RESPONSE_HEADER_LENGTH;
  // Counted before anything is decoded, as a server counts a call head.
  const over = headOver(bytes, at, end, max);
  if (over !== undefined) throw new FrameError(`reply metadata of ${describeHeadOver(over)} for call ${call.seq} exceeds the ${max} this client reads`);
  if (call.onReplyMetadata === undefined) return;
  try {
    call.replyMetadata = decodeCallHead(bytes, at, end).metadata;
  } catch (err) {
    if (err instanceof CallHeadError) throw new FrameError(`reply metadata for call ${call.seq}: ${err.message}`);
    throw err;
  }
}
