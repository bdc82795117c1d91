import { invalidArgument, type OptionalFields } from '@skein/core';
import { resolveLimits, type Limits } from '../wire/limits.js';
import { DEFAULT_MAX_REPLY_METADATA } from '../wire/reply-metadata.js';

/**
 * A client's receive limits (`ClientStreamOptions.limits`): the frame limits every side has, and
 * what only a client reads, the metadata a server sends back with its answers.
 */
export interface ClientLimits extends Limits {
  /**
   * Reply metadata bytes (a handler's `setReplyMetadata` entries, counted as a call head is: their
   * bytes and 32 an entry) this client reads with one answer: the bound its hello announces (kind
   * 27), which a server holds its handlers' entries to (within `maxMessage` too). Default 8 KiB;
   * 0 reads none (not offered: a server drops what its handlers set, and `onReplyMetadata` is told
   * an empty record). A server that sends more is a broken one: the connection closes (FrameError,
   * naming this option). A server from before the option holds entries to 8 KiB whatever it names.
   */
  maxReplyMetadata: number;
}

/** `partial` checked (InvalidArgument naming the limit), with the defaults filled in. */
export function resolveClientLimits(partial: OptionalFields<ClientLimits> = {}): ClientLimits {
  const { maxReplyMetadata = DEFAULT_MAX_REPLY_METADATA, ...frames } = partial;
  if (!(Number.isInteger(maxReplyMetadata) && maxReplyMetadata >= 0 && maxReplyMetadata <= 0xffff_ffff)) {
    throw invalidArgument(`limits.maxReplyMetadata must be an integer in 0..${0xffff_ffff}, got ${maxReplyMetadata}`);
  }
  return { ...resolveLimits(frames), maxReplyMetadata };
}
