import { seededRandom } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { Reply } from '../src/client/call.js';
import { Inbox } from '../src/internals/inbox.js';
import { ITEM_OVERHEAD, itemCost } from '../src/wire/extension-frames.js';

const costOf = (item: Reply): number => itemCost(item.msg, item.blob);

/**
 * Items waiting in an inbox are packed when small (internals/inbox.ts, PACK_BELOW): what a reader
 * gets must be what was sent, in order, each a copy of its own, whatever the mix of small and
 * large items, reads and arrivals.
 */
describe('Inbox pushFrom', () => {
  it('gives back every item as sent, in order, through packing, moving down and growing', async () => {
    const random = seededRandom(140);
    const window = 256 * 1024;
    let granted = 0;
    const inbox = new Inbox(costOf, window, (n) => (granted += n));
    const sent: { msg: number[]; blob: number[] }[] = [];
    const got: Reply[] = [];
    let pushed = 0;
    const credit = (): number => window - pushed + granted;
    for (let round = 0; round < 400; round++) {
      // Arrivals while credit lasts, then a few reads: the packed bytes move down and grow.
      for (let i = 0; i < 1 + Math.floor(random() * 20) && credit() > 0; i++) {
        const big = random() < 0.05;
        const msgLength = big ? 16 * 1024 + Math.floor(random() * 8000) : Math.floor(random() * 300);
        const blobLength = random() < 0.5 ? 0 : Math.floor(random() * 200);
        const at = Math.floor(random() * 100);
        // A fresh received chunk each time, as a transport hands them (it never writes one again).
        const buffer = new Uint8Array(at + msgLength + blobLength + Math.floor(random() * 100));
        for (let j = 0; j < msgLength + blobLength; j++) buffer[at + j] = Math.floor(random() * 256);
        sent.push({ msg: [...buffer.subarray(at, at + msgLength)], blob: [...buffer.subarray(at + msgLength, at + msgLength + blobLength)] });
        expect(inbox.pushFrom(buffer, at, at + msgLength, at + msgLength + blobLength)).toBe(true);
        pushed += msgLength + blobLength + ITEM_OVERHEAD;
      }
      for (let i = 0; i < Math.floor(random() * 12); i++) {
        if (got.length === sent.length) break;
        got.push((await inbox.next()).value as Reply);
      }
    }
    while (got.length < sent.length) got.push((await inbox.next()).value as Reply);
    // Compared once all are read: an item a reader kept is not overwritten as later ones are packed and moved.
    expect(got.map((r) => ({ msg: [...r.msg], blob: [...r.blob] }))).toEqual(sent);
    expect(sent.length).toBeGreaterThan(1000);
  });
});
