import { cleanups, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, StaticDiscovery, followDiscovery, type EntrySpec } from '../src/index.js';
import { transport } from './harness.js';
import { localServer, str, textOf, type LocalServer } from './pool-harness.js';

const cleanup = cleanups();

/** `n` entries of type svc on addresses nobody listens on (no call is made to them). */
function entries(n: number, from: number): EntrySpec[] {
  return Array.from({ length: n }, (_, i) => ({ type: 'svc', id: `s${from + i}`, address: `10.1.${(from + i) >> 8}.${(from + i) & 255}:7000` }));
}

function pool(opts: Partial<ConstructorParameters<typeof FailoverPool>[0]> = {}): FailoverPool {
  const p = new FailoverPool({ transport, servers: [], ...opts });
  cleanup.push(() => within(p.close(), 10_000, 'pool close'));
  return p;
}

// Changes of many servers come in one turn (a discovery's first view, a full replacement, every
// lease expiring at once): the work each costs must not grow with the pool, or the whole change
// is O(n²) in one turn of the event loop (seconds at a few thousand servers).
describe('FailoverPool membership at scale', () => {
  it("follows a full replacement of many discovered servers without reading the pool's whole list per leave", () => {
    const d = new StaticDiscovery(entries(300, 0));
    const p = pool();
    const read = p.servers.bind(p);
    let reads = 0;
    p.servers = () => (reads++, read());
    const watch = followDiscovery(p, d, { type: 'svc', lastLeaveGraceMs: 60_000 });
    cleanup.push(() => watch.close());
    d.set(entries(300, 1000));
    expect(reads).toBe(0);
    expect(read().map((s) => s.address)).toEqual(entries(300, 1000).map((e) => e.address));
    // Every entry leaving at once: the last server is still kept for the grace, read for once.
    d.set([]);
    expect(reads).toBe(1);
    expect(read()).toHaveLength(1);
  });

  it('tells whether a leave takes the last server without a search per leave, past servers the application removed by hand', () => {
    // The pool's list reads, counted: the work per leave, whatever the clock says.
    class CountingPool extends FailoverPool {
      reads = 0;
      override servers(): ReturnType<FailoverPool['servers']> {
        this.reads++;
        return super.servers();
      }
    }
    const p = new CountingPool({ transport, servers: [] });
    cleanup.push(() => within(p.close(), 10_000, 'pool close'));
    const kept = entries(1000, 0);
    const d = new StaticDiscovery([...kept, ...entries(1000, 1000)]);
    const watch = followDiscovery(p, d, { type: 'svc', lastLeaveGraceMs: 60_000 });
    cleanup.push(() => watch.close());
    // The first thousand, still listed, taken out by hand: each leave after searched past them all.
    for (const e of kept) void p.remove(e.address);
    d.set(kept);
    expect(p.reads).toBeLessThanOrEqual(2);
    // The last one discovery took away is kept for the grace: the pool is not emptied.
    expect(p.servers().map((s) => s.address)).toEqual([entries(1, 1999)[0]!.address]);
  });

  it('picks among servers joined in one turn, and a hook reading the pool sees each change as it is', async () => {
    const s: Record<string, LocalServer> = {};
    for (const n of ['a', 'b', 'c']) {
      s[n] = await localServer({ who: () => str(n) });
      cleanup.push(() => s[n]!.server.close());
    }
    const seen: string[] = [];
    const p = pool({ onMembershipChange: (e) => seen.push(`${e.type} ${p.servers().length}`) });
    for (const n of ['a', 'b', 'c']) p.add(s[n]!.address);
    const replies = await Promise.all([p.call('who'), p.call('who'), p.call('who')]);
    expect(replies.map(textOf).sort()).toEqual(['a', 'b', 'c']);
    p.add('10.9.9.9:7000');
    void p.remove('10.9.9.9:7000');
    void p.remove(s.b!.address);
    expect(seen).toEqual(['add 1', 'add 2', 'add 3', 'add 4', 'remove 3', 'remove 2']);
    const after = await Promise.all([p.call('who'), p.call('who'), p.call('who'), p.call('who')]);
    expect(after.map(textOf).sort()).toEqual(['a', 'a', 'c', 'c']);
  });
});
