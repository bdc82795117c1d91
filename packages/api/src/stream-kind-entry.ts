import { extended, invalidArgument } from '@skein/core';
import { metadataRefusal, type CallOptions, type Metadata } from '@skein/stream';
import type { StreamKind } from './define.js';

/**
 * The call-head entry a stub's stream open carries: the kind of stream its definition says
 * (`server`, `client`, `both`), so that the server can tell a skew the wire cannot show (a server
 * stream without an argument, a client stream, a bidirectional one: each opens with nothing) and
 * refuse it unrun (stream-dispatch.ts). Reserved: a handler sees it in `ctx.metadata`. A stream
 * open always carries a head, so it costs its bytes alone; unary calls never carry it.
 */
export const STREAM_KIND_KEY = 'skein-stream';

/** Each kind's entry, made once: a stream opened without metadata of its own takes it as it is. */
const ENTRIES: Readonly<Record<StreamKind, Metadata>> = {
  server: Object.freeze({ [STREAM_KIND_KEY]: 'server' }),
  client: Object.freeze({ [STREAM_KIND_KEY]: 'client' }),
  both: Object.freeze({ [STREAM_KIND_KEY]: 'both' }),
};

/**
 * The open's options with the kind's entry after the caller's metadata: an entry of the caller's
 * by that name gives way. Metadata that is no record (plain JS: null, a string) is refused as a
 * unary call's is (stream's `metadataRefusal`), not merged into one (a string's characters were
 * sent as entries, null threw a TypeError).
 */
export function withStreamKind(opts: CallOptions, kind: StreamKind, action: string): CallOptions {
  const entry = ENTRIES[kind];
  const given: unknown = opts.metadata;
  if (given === undefined) return extended(opts, { metadata: entry });
  const refused = metadataRefusal(given);
  if (refused !== undefined) throw invalidArgument(`${action}: ${refused.message}`);
  return extended(opts, { metadata: extended(given as Metadata, entry) });
}

/** The kind a stream was opened as, from its metadata; undefined: none said (an older client, a raw open). */
export const sentStreamKind = (metadata: Metadata): string | undefined => metadata[STREAM_KIND_KEY];

/** A value the entry may have. */
export const isStreamKind = (value: string): value is StreamKind => Object.hasOwn(ENTRIES, value);
