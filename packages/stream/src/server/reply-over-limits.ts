import { frameCapCutLimits, type ReplyLimits } from '../wire/limits.js';
import { RESPONSE_HEADER_LENGTH } from '../wire/protocol.js';
import { frameCapWords } from '../wire/frame-cap-words.js';

/**
 * What a reply or stream item of `msg` and `blob` bytes is over of the client's reply limits
 * (its hello), in words that name the option to raise: the largest frame the client's transport
 * carries first (its hello's max_frame) where it cut the limits, as that is what would have cost
 * it the connection, then the part over its `limits`. Built only for a reply refused: never on the path of one sent.
 */
export function replyOverLimits(what: 'reply' | 'stream item' | 'error reply', msg: number, blob: number, limits: ReplyLimits): string {
  const frame = RESPONSE_HEADER_LENGTH + msg + blob;
  if (limits.maxFrame !== undefined && overBindingFrameCap(frame, limits)) {
    return `${what} frame of ${frame} bytes exceeds ${frameCapWords("the client's", limits.maxFrame, 'client')}`;
  }
  // The words of before for a reply ("reply message of N bytes exceeds the client's limit of M"), the option named after them.
  if (msg > limits.maxMessage) return `${what} message of ${msg} bytes exceeds the client's limit of ${limits.maxMessage} (its limits.maxMessage)`;
  return `${what} blob of ${blob} bytes exceeds the client's limit of ${limits.maxBlob} (its limits.maxBlob)`;
}

/** A frame over the client's max_frame where that cap cut the client's limits (`frameCapCutLimits`): the cap is the one to raise. */
export function overBindingFrameCap(frame: number, limits: ReplyLimits): boolean {
  return limits.maxFrame !== undefined && frame > limits.maxFrame && frameCapCutLimits(limits);
}
