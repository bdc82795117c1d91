import { EMPTY_BYTES } from '@skein/core';
import { HelloKind, type HelloEntry } from './hello.js';
import { REQUEST_HEADER_LENGTH, RESPONSE_HEADER_LENGTH, writeRequestHeader, writeResponseHeaderHalves, type ResponseFlag } from './protocol.js';

/**
 * The server's keepalive (docs/protocol.md, "Server pings"): a server pings a client it has heard
 * nothing from, and ends the connection when the ping goes unanswered, so that a frozen or
 * cut-off client holds no handler, stream or memory for ever. Nothing of it goes to a client
 * that did not offer it in its hello: a razor v1 client would read the ping as a broken answer.
 *
 * - hello kind SERVER_PINGS_KIND. Offer: empty, the client answers server pings. Answer: empty,
 *   the server reads the answers (it pings when its `keepaliveMs` for the connection's kind is on).
 * - A server ping (server → client) is a response frame with flag SERVER_PING_FLAG, seq 0 and no
 *   body: seq 0 is the hello's, so a client finds it where it already looks for the hello's
 *   answer, and its ordinary replies pay nothing for it.
 * - A server pong (client → server) is a request with the numeric action SERVER_PONG_ACTION,
 *   seq 0 and no body. The server keeps one ping out at a time: any frame it reads answers it.
 */
export const SERVER_PINGS_KIND = HelloKind.ServerPings;

/** A response flag no v1 frame uses (reverse calls are 0x18). */
export const SERVER_PING_FLAG = 0x19;

export const SERVER_PONG_ACTION = 0x7fff_ff19;

/** The entry, offer and answer alike. */
export const SERVER_PINGS_ENTRY: HelloEntry = { kind: SERVER_PINGS_KIND, value: EMPTY_BYTES };

/** The whole ping frame (flag, seq 0, no body): the same bytes every time, so made once. */
export const SERVER_PING_FRAME: Uint8Array = serverPingFrame();

/** The whole pong frame: request header only. */
export const SERVER_PONG_FRAME: Uint8Array = serverPongFrame();

function serverPingFrame(): Uint8Array {
  const frame = new Uint8Array(RESPONSE_HEADER_LENGTH);
  // A flag of ours, past ResponseFlag's three (as the extension frames' are).
  writeResponseHeaderHalves(frame, SERVER_PING_FLAG as number as ResponseFlag, 0, 0, 0, 0);
  return frame;
}

function serverPongFrame(): Uint8Array {
  const frame = new Uint8Array(REQUEST_HEADER_LENGTH);
  writeRequestHeader(frame, SERVER_PONG_ACTION, 0, 0, 0, 0);
  return frame;
}
