import type { ConnInfo, ServerRequest } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { InputQueue, type QueuedConn } from '../src/input-queue.js';

// The queue only keeps requests in order and reads their connection: plain records stand for them.
function setup() {
  const records = new WeakMap<ConnInfo, QueuedConn>();
  const conn = (key: number) => {
    const info = { key } as unknown as ConnInfo;
    records.set(info, { key, queued: 0 });
    return { info, record: records.get(info)! };
  };
  const req = (c: { info: ConnInfo }, n: number) => ({ conn: c.info, n }) as unknown as ServerRequest;
  return { q: new InputQueue(records), conn, req };
}
const ns = (reqs: (ServerRequest | undefined)[]) => reqs.map((r) => (r as unknown as { n: number } | undefined)?.n);

describe('InputQueue: each connection counted as its calls come and go', () => {
  it('counts every way a call enters or leaves, and the share follows the connections holding calls', () => {
    const { q, conn, req } = setup();
    const [a, b, c] = [conn(1), conn(2), conn(3)];
    for (let n = 0; n < 6; n++) q.push(req(a, n), a.record);
    q.push(req(b, 10), b.record);
    expect([a.record.queued, b.record.queued]).toEqual([6, 1]);
    // Two connections hold calls; a third that holds none is counted among them.
    expect([q.shareOf(a.record, 8), q.shareOf(c.record, 8)]).toEqual([4, 2]);
    // Newest past the share first (reject-new), oldest (shed-oldest), or one connection's own.
    expect(ns([q.takeOver(4, true), q.takeOver(4, false), q.takeOver(0, true, b.record), q.takeOver(0, true, c.record)])).toEqual([5, 0, 10, undefined]);
    expect([a.record.queued, b.record.queued, q.length]).toEqual([4, 0, 4]);
    expect(q.shareOf(c.record, 8)).toBe(4);
    // shift, with the connection it came from.
    expect(ns([q.shift()])).toEqual([1]);
    expect(q.shiftedFrom).toBe(a.record);
    // Put back at the head (a dead worker's untaken calls), pruned.
    q.pushFront([req(c, 20), req(b, 11)]);
    expect([a.record.queued, b.record.queued, c.record.queued]).toEqual([3, 1, 1]);
    q.prune((r) => (r as unknown as { n: number }).n !== 20 && (r as unknown as { n: number }).n !== 3);
    expect([a.record.queued, b.record.queued, c.record.queued]).toEqual([2, 1, 0]);
    expect(q.shareOf(a.record, 8)).toBe(4);
    const rest: (ServerRequest | undefined)[] = [];
    while (q.length > 0) rest.push(q.shift());
    expect(ns(rest)).toEqual([11, 2, 4]);
    expect([a.record.queued, b.record.queued, c.record.queued, q.shareOf(a.record, 8)]).toEqual([0, 0, 0, 8]);
  });

  it('takes a call out near the head (the calls ahead move back) or far from it (spliced), the order of the rest and the counts kept', () => {
    const { q, conn, req } = setup();
    const [a, b] = [conn(1), conn(2)];
    for (let n = 0; n < 20; n++) q.push(req(n % 2 ? a : b, n), n % 2 ? a.record : b.record);
    expect(ns([q.shift(), q.shift()])).toEqual([0, 1]);
    // a's oldest is a place behind the head, b's newest far from it, then b's oldest is the head.
    expect(ns([q.takeOver(0, false, a.record), q.takeOver(0, true, b.record), q.takeOver(0, false, b.record)])).toEqual([3, 18, 2]);
    expect([a.record.queued, b.record.queued, q.length]).toEqual([8, 7, 15]);
    const rest: (ServerRequest | undefined)[] = [];
    const owners: number[] = [];
    while (q.length > 0) {
      rest.push(q.shift());
      owners.push(q.shiftedFrom!.key);
    }
    expect(ns(rest)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19]);
    expect(owners).toEqual(rest.map((r) => ((r as unknown as { n: number }).n % 2 ? 1 : 2)));
    expect([a.record.queued, b.record.queued, q.shareOf(a.record, 8)]).toEqual([0, 0, 8]);
  });

  it('keeps its counts across compaction of a long line', () => {
    const { q, conn, req } = setup();
    const [a, b] = [conn(1), conn(2)];
    for (let n = 0; n < 5000; n++) q.push(req(n % 2 ? a : b, n), n % 2 ? a.record : b.record);
    for (let n = 0; n < 3000; n++) expect(ns([q.shift()])).toEqual([n]);
    expect([a.record.queued, b.record.queued, q.length]).toEqual([1000, 1000, 2000]);
    expect(ns([q.takeOver(999, true), q.takeOver(999, false)])).toEqual([4999, 3000]);
    expect([a.record.queued, b.record.queued]).toEqual([999, 999]);
  });
});
