import { EMPTY_BYTES } from '@skein/core';
import { HelloKind, type HelloEntry } from './hello.js';
import { RESPONSE_HEADER_LENGTH, writeResponseHeaderHalves, type ResponseFlag } from './protocol.js';

/**
 * A draining server's goodbye (docs/protocol.md, "Goodbye"), as HTTP/2's GOAWAY: a server that
 * closes ends each connection once nothing it read there is still running, and a call its client
 * sent meanwhile, still on its way, was cut off with it. Seen from the client, a connection that
 * ends with its call unanswered may have run it (a server killed mid-handler ends its connections
 * as cleanly), so the call failed "may have run", and a pool could not send it elsewhere. The
 * goodbye, the server's last frame, says that nothing it read is still running and that it runs
 * nothing it reads after: every call still unanswered when it comes never ran, and the client
 * fails them so (Closed, `retry: 'safe'`), for a pool to send them on elsewhere.
 *
 * - hello kind GOODBYE_KIND. Offer: empty, the client reads the goodbye. Answer: empty, the
 *   server sends it. Nothing of it goes to a client that did not offer it (a razor v1 client, an
 *   older Skein client would read it as a broken answer).
 * - The goodbye (server → client): a response frame with flag GOODBYE_FLAG, seq 0 (the hello's,
 *   as a server ping's) and no body (a body is a broken server), written just before the server
 *   ends its side of a draining connection on which no call, stream or reverse call is running.
 */
export const GOODBYE_KIND = HelloKind.Goodbye;

/** A response flag no other frame uses (server pings are 0x19, call heads on reverse calls 0x1C). */
export const GOODBYE_FLAG = 0x1d;

/** The entry, offer and answer alike. */
export const GOODBYE_ENTRY: HelloEntry = { kind: GOODBYE_KIND, value: EMPTY_BYTES };

/** The whole frame (flag, seq 0, no body): the same bytes every time, so made once. */
export const GOODBYE_FRAME: Uint8Array = goodbyeFrame();

function goodbyeFrame(): Uint8Array {
  const frame = new Uint8Array(RESPONSE_HEADER_LENGTH);
  // A flag of ours, past ResponseFlag's three (as the extension frames' are).
  writeResponseHeaderHalves(frame, GOODBYE_FLAG as number as ResponseFlag, 0, 0, 0, 0);
  return frame;
}

/** `lastWords` (a refusal's answer, the connection's last frame before) followed by the goodbye: written at once, as one part. */
export function withGoodbye(lastWords: Uint8Array): Uint8Array {
  const both = new Uint8Array(lastWords.length + GOODBYE_FRAME.length);
  both.set(lastWords);
  both.set(GOODBYE_FRAME, lastWords.length);
  return both;
}
