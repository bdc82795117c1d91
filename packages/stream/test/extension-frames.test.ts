import { describe, expect, it } from 'vitest';
import { fromHex } from '@skein/test-utils';
import { CallHeadError, decodeCallHead, encodeCallHead } from '../src/wire/call-head.js';
import { CANCEL_ACTION, END_ACTION, bareRequest, creditRequest, creditResponse } from '../src/wire/extension-frames.js';
import { answerHello } from '../src/server/hello-answer.js';
import { golden } from './golden.js';

describe('extension frames match the golden vectors', () => {
  it('call heads', () => {
    expect(encodeCallHead(250, { authorization: 'Bearer t' })).toEqual(golden.head.subarray(32));
    expect(encodeCallHead(undefined, undefined)).toEqual(golden.headBare.subarray(32));
    expect(decodeCallHead(golden.head, 32, golden.head.length)).toEqual({ remainingMs: 250, metadata: { authorization: 'Bearer t' } });
    expect(decodeCallHead(golden.headBare, 32, golden.headBare.length)).toEqual({ remainingMs: undefined, metadata: {} });
    // A fraction of a ms left is rounded up: the server is never told less than there is.
    expect(decodeCallHead(encodeCallHead(0.2, undefined), 0, 4).remainingMs).toBe(1);
  });

  it('cancel, end and credit both ways', () => {
    expect(bareRequest(CANCEL_ACTION, 5)).toEqual(golden.cancel);
    expect(bareRequest(END_ACTION, 6)).toEqual(golden.clientEnd);
    expect(creditRequest(6, 65536)).toEqual(golden.clientCredit);
    expect(creditResponse(fromHex('0600000000000000'), 65536)).toEqual(golden.serverCredit);
  });

  it('the server accepts the default offer as the golden answer says', () => {
    const offer = golden.helloOfferFull;
    const outcome = answerHello(offer, 0, offer.length);
    // But for the in-flight cap's entry (8 bytes), the goodbye's after it (4), the request limits' (16) and reply metadata's (4), which the connection adds: the cap and the limits are its kind's (conn-hello.ts).
    expect(outcome.answer).toEqual(golden.helloAnswerFull.subarray(20, golden.helloAnswerFull.length - 32));
    expect(outcome.readsCap).toBe(true);
    expect(outcome.goodbye).toBe(true);
    expect(outcome.readsLimits).toBe(true);
    expect(outcome.replyMetadata).toBe(true);
    expect(outcome.agreed).toEqual({ cancel: true, maxHead: 8192, streams: { toServer: 1024 * 1024, toClient: 1024 * 1024 } });
  });

  it('accepts no streams without cancel, nor with a window of 0', () => {
    const noCancel = fromHex('01 00  0100 0800 00000001 00000004  0400 0400 00001000');
    expect(answerHello(noCancel, 0, noCancel.length).agreed).toBeUndefined();
    const zero = fromHex('01 00  0100 0800 00000001 00000004  0200 0000  0400 0400 00000000');
    expect(answerHello(zero, 0, zero.length).agreed).toEqual({ cancel: true, maxHead: 0, streams: undefined });
  });

  it.each([
    ['shorter than its remaining_ms', '0000'],
    ['an entry cut short', 'ffffffff 05 6b6b'],
    ['an empty key', 'ffffffff 00 0000'],
    ['a value that is not UTF-8', 'ffffffff 01 6b 0100 ff'],
  ])('a head with %s throws CallHeadError', (_what, bytes) => {
    const b = fromHex(bytes);
    expect(() => decodeCallHead(b, 0, b.length)).toThrow(CallHeadError);
  });
});
