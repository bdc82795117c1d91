import { cleanups } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { FailoverPool, serverKey } from '../src/index.js';

const cleanup = cleanups();

// A DNS name was folded in a pool's key, an IPv6 literal kept as written: `ws://[FE80::1]:80`
// and `ws://[fe80::1]:80`, one address, were two members with their own connections, and
// `remove` in the other case removed nothing. Its hex digits are folded too; its zone is not.
describe("an IPv6 literal's hex digits in another case", () => {
  it.each([
    ['ws://[FE80::1]:80', 'ws://[fe80::1]:80', '[fe80::1]:80'],
    ['[::FFFF:7F00:1]:1', 'tcp://[::ffff:7f00:1]:1', '[::ffff:127.0.0.1]:1'],
    ['tls://[::A]:2', 'WSS://[::a]:2', 'tls://[::a]:2'],
    ['wss://[FE80::B]/Skein', 'wss://[fe80::b]:443/Skein', 'wss://[fe80::b]:443/Skein'],
    ['[FE80::1%Eth0]:1', '[fe80::1%Eth0]:1', '[fe80::1%Eth0]:1'],
  ])('%s has the key of %s, %s', (given, other, key) => {
    expect(serverKey(given)).toBe(key);
    expect(serverKey(other)).toBe(key);
  });

  it("keeps a zone's case, an interface's name", () => {
    expect(serverKey('[fe80::1%eth0]:1')).not.toBe(serverKey('[fe80::1%ETH0]:1'));
  });

  it('is one member in either case, refused listed twice and removed by the other', async () => {
    expect(() => new FailoverPool({ transport: wsTransport(), servers: ['ws://[FE80::1]:80', 'ws://[fe80::1]:80'] })).toThrow('is listed twice');
    const pool = new FailoverPool({ transport: wsTransport(), servers: ['ws://[FE80::1]:80'] });
    cleanup.push(() => pool.close());
    expect(pool.add('[fe80::1]:80')).toBe(false);
    expect(pool.size).toBe(1);
    await pool.remove('WS://[Fe80::1]:80');
    expect(pool.size).toBe(0);
  });
});

// A query with no path (`wss://h?q`), refused before, has the path `/`: one key with `wss://h:443/?q`.
// And `ws://alice:12/ss@host` is host alice (no login, no host `host`), as the ws client dials it.
describe('a WebSocket URL read by RFC 3986', () => {
  it('keys wss://h?q as wss://h:443/?q, and ws://alice:12/ss@host by host alice', () => {
    expect(serverKey('wss://H?q')).toBe('wss://h:443/?q');
    expect(serverKey('wss://h:443/?q')).toBe(serverKey('wss://h?q'));
    expect(serverKey('ws://Alice:12/ss@host')).toBe('ws://alice:12/ss@host');
  });
});
