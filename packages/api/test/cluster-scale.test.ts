import { msgpackCodec } from '@skein/codec-msgpack';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { FailoverPool } from '@skein/stream';
import { createCluster, method, service, type Member } from '../src/index.js';
import { transport } from './harness.js';

const Area = service('Area', { whoami: method<void, string>() });
const cleanup = cleanups();

/** A member on an address nobody listens on (no call is made), counting how often its address is read. */
function member(i: number, reads: { n: number }): Member {
  const address = `10.1.${i >> 8}.${i & 255}:7000`;
  return {
    id: `area-${i}`,
    get address() {
      reads.n++;
      return address;
    },
  };
}

// Every member of a type leaving at once (a discovery's lease expiry storm) comes in one turn:
// the work each remove costs must not grow with the type, or the whole storm is O(n²) in that
// turn (8,000 members: 11 s).
describe('a cluster type at scale', () => {
  it("removes each of many members without reading every other member's address", async () => {
    const n = 2000;
    let pool: FailoverPool | undefined;
    const rpc = createCluster({ codec: msgpackCodec, transport, types: { area: { services: [Area] } }, wrapCaller: (c, t) => ((pool = t.pool), c) });
    cleanup.push(() => rpc.$cluster.close());
    const reads = { n: 0 };
    const members = Array.from({ length: n }, (_, i) => member(i, reads));
    for (const m of members) rpc.$cluster.add('area', m);
    expect(rpc.$cluster.count('area')).toBe(n);
    expect(pool!.size).toBe(n);

    reads.n = 0;
    const removed = members.map((m) => rpc.$cluster.remove('area', m.id));
    // Their addresses read a few times each (the server's key, the pool's remove), not the others'.
    expect(reads.n).toBeLessThanOrEqual(4 * n);
    await Promise.all(removed);
    expect(rpc.$cluster.count('area')).toBe(0);
    expect(rpc.$cluster.members('area')).toEqual([]);
    expect(pool!.size).toBe(0);
  });
});
