import { ErrorCode, FrameError, type FrameSpec } from '@skein/core';
import type { Limits } from './limits.js';
import {
  ACTION_LEN_MASK,
  ACTION_STRING_BIT,
  MAGIC,
  MAX_BLOB_WIRE,
  MAX_MESSAGE_WIRE,
  REQUEST_HEADER_LENGTH,
  REQ_ACTION_AT,
  REQ_BLOB_LEN_AT,
  REQ_MSG_LEN_AT,
  RES_BLOB_LEN_AT,
  RES_FLAG_AT,
  RES_MSG_LEN_AT,
  RESPONSE_HEADER_LENGTH,
  ResponseFlag,
  SEQ_AT,
  VERSION,
  u32,
} from './protocol.js';
import { errorResponseHalves } from './responses.js';
import { BUILTIN_ERROR_ROOM } from './error-strings.js';
import { CREDIT_FLAG, DATA_FLAG } from './extension-frames.js';
import { REVERSE_CALL_FLAG } from './reverse-calls.js';
import { SERVER_PING_FLAG } from './server-pings.js';
import { GOODBYE_FLAG } from './goodbye.js';
import { BadMagic } from './bad-magic.js';
import { UnsupportedVersion } from './unsupported-version.js';
import { REVERSE_CANCEL_FLAG, TIMED_REVERSE_CALL_FLAG } from './reverse-control.js';
import { HEADED_REVERSE_CALL_FLAG } from './reverse-heads.js';
import { REPLY_METADATA_FLAG } from './reply-metadata.js';

/** Throws on a bad magic; returns whether the version of the header at `at` is ours (each side refuses others its own way). */
function versionOk(b: Uint8Array, at: number): boolean {
  const magic = b[at]! | (b[at + 1]! << 8);
  // A bad magic means we are not even in step with the peer's frames: no reply can be trusted.
  if (magic !== MAGIC) throw new BadMagic(magic);
  return b[at + 2] === VERSION;
}

/** The widest limits the wire allows: for the frames we send ourselves, already checked. */
const WIRE_LIMITS: Limits = { maxMessage: MAX_MESSAGE_WIRE, maxBlob: MAX_BLOB_WIRE, maxAction: ACTION_LEN_MASK };

/** What the server reads (requests); its `outbound` describes what it sends (responses). */
export function requestFrameSpec(limits: Limits): FrameSpec {
  // A server sends reverse calls too (to a connection that agreed them): a transport that splits what it sends by frame reads them.
  return { ...requests(limits), outbound: responses(WIRE_LIMITS, true) };
}

/**
 * What the client reads (responses); its `outbound` describes what it sends (requests). With
 * `reverseCalls` (the client offered to serve calls) it reads reverse calls too; without, it
 * closes on one, as on any unknown flag.
 */
export function responseFrameSpec(limits: Limits, reverseCalls = false): FrameSpec {
  return { ...responses(limits, reverseCalls), outbound: requests(WIRE_LIMITS) };
}

/** Requests, checked against `limits`. Over-limit frames get an error reply before the close. */
function requests(limits: Limits): FrameSpec {
  const refuse = (b: Uint8Array, at: number, code: ErrorCode, why: string, detail?: string): FrameError =>
    new FrameError(why, errorResponseHalves(u32(b, at + SEQ_AT), u32(b, at + SEQ_AT + 4), code, detail));
  // The answer says by how much: the limit for the sender's kind (a client's may be a fraction of
  // a peer's) is news to it. (FrameTooLarge is Skein's code: a razor peer reads it as text, detail or not.)
  const tooLarge = (b: Uint8Array, at: number, what: string, n: number, max: number): FrameError =>
    refuse(b, at, ErrorCode.FrameTooLarge, `${what} of ${n} bytes exceeds ${max}`, `${what} of ${n} bytes exceeds the server's limit of ${max}`);
  return {
    headerLength: REQUEST_HEADER_LENGTH,
    bodyLength(b, at) {
      if (!versionOk(b, at)) throw refuse(b, at, ErrorCode.Version, `unsupported version ${b[at + 2]}`);
      const action = u32(b, at + REQ_ACTION_AT);
      const actionLength = action & ACTION_STRING_BIT ? action & ACTION_LEN_MASK : 0;
      const msgLength = u32(b, at + REQ_MSG_LEN_AT);
      const blobLength = u32(b, at + REQ_BLOB_LEN_AT);
      if (actionLength > limits.maxAction) throw tooLarge(b, at, 'action', actionLength, limits.maxAction);
      if (msgLength > limits.maxMessage) throw tooLarge(b, at, 'message', msgLength, limits.maxMessage);
      if (blobLength > limits.maxBlob) throw tooLarge(b, at, 'blob', blobLength, limits.maxBlob);
      return actionLength + msgLength + blobLength;
    },
  };
}

/** Responses, checked against `limits`. */
function responses(limits: Limits, reverseCalls = false): FrameSpec {
  // An error string is read up to the client's limits, or a built-in error's most if that is more.
  const maxError = Math.max(Math.min(limits.maxMessage, limits.maxBlob), BUILTIN_ERROR_ROOM);
  return {
    headerLength: RESPONSE_HEADER_LENGTH,
    bodyLength(b, at) {
      if (!versionOk(b, at)) throw new UnsupportedVersion(b[at + 2]!);
      const flag = b[at + RES_FLAG_AT];
      const msgLength = u32(b, at + RES_MSG_LEN_AT);
      const blobLength = u32(b, at + RES_BLOB_LEN_AT);
      // An error string is held to its own limit, below (weighed only past this one: ordinary frames pay nothing for it).
      if (blobLength > limits.maxBlob && flag !== ResponseFlag.ErrorString) {
        throw new FrameError(`blob of ${blobLength} bytes exceeds ${limits.maxBlob}`);
      }
      switch (flag) {
        // A stream's item is laid out as an ok answer (only a peer that agreed streams is sent one).
        case ResponseFlag.Ok:
        case DATA_FLAG:
          if (msgLength > limits.maxMessage) {
            throw new FrameError(`message of ${msgLength} bytes exceeds ${limits.maxMessage}`);
          }
          return msgLength + blobLength;
        case ResponseFlag.ErrorNumber:
        case CREDIT_FLAG:
          return 0;
        case ResponseFlag.ErrorString:
          if (blobLength > maxError) throw new FrameError(`error string of ${blobLength} bytes exceeds ${maxError}`);
          return blobLength;
        // A reverse call: its msg (action and message) is held to the message limit.
        // A timed one carries its remaining time in front, a headed one its head, within the same limit (the server counts them).
        case REVERSE_CALL_FLAG:
        case TIMED_REVERSE_CALL_FLAG:
        case HEADED_REVERSE_CALL_FLAG:
          if (!reverseCalls) throw new FrameError(`unknown response flag ${flag}`);
          if (msgLength > limits.maxMessage) throw new FrameError(`reverse call message of ${msgLength} bytes exceeds ${limits.maxMessage}`);
          return msgLength + blobLength;
        // The server gave up on a reverse call: no body (a body is a broken server).
        case REVERSE_CANCEL_FLAG:
          if (!reverseCalls) throw new FrameError(`unknown response flag ${flag}`);
          if (msgLength !== 0 || blobLength !== 0) throw new FrameError(`reverse cancel with a body of ${msgLength + blobLength} bytes`);
          return 0;
        // A reply head: a call head as msg, no blob (whether its hello agreed it, and its bound, the client checks as it reads it).
        case REPLY_METADATA_FLAG:
          if (blobLength !== 0) throw new FrameError(`reply metadata with a blob of ${blobLength} bytes`);
          if (msgLength > limits.maxMessage) throw new FrameError(`reply metadata of ${msgLength} bytes exceeds ${limits.maxMessage}`);
          return msgLength;
        // A server ping has no body; a Skein client offers to answer them whenever it sends a hello.
        case SERVER_PING_FLAG:
          if (msgLength !== 0 || blobLength !== 0) throw new FrameError(`server ping with a body of ${msgLength + blobLength} bytes`);
          return 0;
        // A goodbye has no body either; every Skein client that sends a hello offers to read one.
        case GOODBYE_FLAG:
          if (msgLength !== 0 || blobLength !== 0) throw new FrameError(`goodbye with a body of ${msgLength + blobLength} bytes`);
          return 0;
        default:
          throw new FrameError(`unknown response flag ${flag}`);
      }
    },
  };
}
