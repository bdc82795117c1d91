import { describe, expect, it } from 'vitest';
import { poolRemote } from '../src/pool/pool-remote.js';

// What a FailoverPool's log line names for `remote` when no server was tried (helper 297): never ''.
describe('poolRemote', () => {
  const named = (addresses: string[]) => poolRemote(addresses.map((shown) => ({ shown })), addresses.length);

  it('names a few servers and counts the rest, and says so when there are none', () => {
    expect(named(['a:1'])).toBe('failover pool of a:1');
    expect(named(['a:1', 'b:2', 'c:3'])).toBe('failover pool of a:1, b:2, c:3');
    expect(named(['a:1', 'b:2', 'c:3', 'd:4', 'e:5'])).toBe('failover pool of a:1, b:2, c:3 and 2 more');
    expect(named([])).toBe('failover pool of no servers');
  });

  it('reads no more addresses than it names: every call a closing pool refuses names it', () => {
    let read = 0;
    function* many(): Generator<{ shown: string }> {
      for (let i = 0; i < 10_000; i++) yield (read++, { shown: `h:${i}` });
    }
    expect(poolRemote(many(), 10_000)).toBe('failover pool of h:0, h:1, h:2 and 9997 more');
    expect(read).toBe(3);
  });
});
