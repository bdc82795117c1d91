import { HELLO_SEQ, HELLO_VERSION, HelloError, HelloRole, decodeHello, encodeHello, receiveLimitsEntry } from '../wire/hello.js';
import type { Limits } from '../wire/limits.js';
import {
  HELLO_ACTION,
  REQUEST_HEADER_LENGTH,
  RES_FLAG_AT,
  RES_MSG_LEN_AT,
  RESPONSE_HEADER_LENGTH,
  ResponseFlag,
  u32,
  writeRequestHeader,
} from '../wire/protocol.js';

/**
 * Below this, the client's limits leave no room for every answer a peer may give the hello
 * (ours, or a v1 peer's error string with a detail): a hello would then risk the connection it
 * is meant to protect, so none is sent.
 */
const ANSWER_ROOM = 1024;

/**
 * What the peer speaks beyond razor v1: `pending` until the hello's answer arrives, `v1` when it
 * was an error (a razor-rpc or older Skein server) or no answer of ours, `agreed` with the kinds
 * the server accepted. Only an `agreed` peer may ever be sent an extension frame.
 */
export type PeerDialect = 'pending' | 'v1' | 'agreed';

/**
 * The client's half of the hello (docs/protocol.md, "Extensions"). The request goes out first on
 * a new connection, with seq 0, and the first call follows at once: no round trip is spent,
 * because the server reads requests in order and takes the hello before any call after it.
 */
export class ClientHello {
  dialect: PeerDialect;
  /** The entry kinds the server accepted (once `agreed`). */
  accepted: readonly number[] = [];
  /** The whole request frame (header and msg), or undefined when none is sent. */
  readonly request: Uint8Array | undefined;

  constructor(limits: Limits) {
    if (limits.maxMessage < ANSWER_ROOM || limits.maxBlob < ANSWER_ROOM) {
      this.dialect = 'v1';
      this.request = undefined;
      return;
    }
    this.dialect = 'pending';
    this.request = helloRequest(limits);
  }

  /** The response with seq 0, at `bytes[start, end)`. Only the first one counts. */
  answer(bytes: Uint8Array, start: number, end: number): void {
    if (this.dialect !== 'pending') return;
    this.dialect = 'v1';
    if (bytes[start + RES_FLAG_AT] !== ResponseFlag.Ok) return;
    const msgAt = start + RESPONSE_HEADER_LENGTH;
    const msgEnd = Math.min(msgAt + u32(bytes, start + RES_MSG_LEN_AT), end);
    let hello;
    try {
      hello = decodeHello(bytes, msgAt, msgEnd);
    } catch (err) {
      if (err instanceof HelloError) return;
      throw err;
    }
    if (hello.version !== HELLO_VERSION || hello.role !== HelloRole.Answer) return;
    this.accepted = hello.entries.map((e) => e.kind);
    this.dialect = 'agreed';
  }
}

function helloRequest(limits: Limits): Uint8Array {
  const msg = encodeHello(HelloRole.Offer, [receiveLimitsEntry(limits.maxMessage, limits.maxBlob)]);
  const frame = new Uint8Array(REQUEST_HEADER_LENGTH + msg.length);
  writeRequestHeader(frame, HELLO_ACTION, 0, HELLO_SEQ, msg.length, 0);
  frame.set(msg, REQUEST_HEADER_LENGTH);
  return frame;
}
