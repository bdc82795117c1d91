import { cleanups } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { FailoverPool, discoveryEntry, serverKey } from '../src/index.js';
import { countingServer } from './harness.js';

const cleanup = cleanups();

// Once ws:// kept its scheme (925ebd8), a pool's canonical address of `ws://h:1` became
// `ws://h:1`, where servers advertise and discovery entries hold `h:1`: `answers('h:1')` was
// false, `add('h:1')` added a second member with its own connections, `remove('h:1')` and
// `remove('tls://h:2')` (for `wss://h:2`) removed nothing. The pool keys a member by its address
// without the transport's scheme, and dials what it was given (a TCP pool still refuses ws://:
// other-transport-address.test.ts).
describe('a FailoverPool member spelled with its transport scheme', () => {
  it('is one member with the scheme-less spelling servers advertise', async () => {
    const ws = wsTransport();
    const server = await countingServer(ws, cleanup);
    const plain = `127.0.0.1:${server.port}`;
    const pool = new FailoverPool({ transport: ws, servers: [`ws://${plain}`] });
    cleanup.push(() => pool.close());
    expect(pool.servers().map((s) => s.address)).toEqual([plain]);
    await pool.call(1, new Uint8Array(), { timeoutMs: 10_000 });
    expect(server.ran()).toBe(1);
    expect(pool.answers(plain)).toBe(true);
    expect(pool.answers(`ws://${plain}`)).toBe(true);
    expect(pool.add(plain)).toBe(false);
    expect(pool.size).toBe(1);
    await pool.remove(plain);
    expect(pool.size).toBe(0);
  });

  it('is removed by its tls:// spelling when given as wss://', async () => {
    const pool = new FailoverPool({ transport: wsTransport(), servers: ['wss://127.0.0.1:1'] });
    cleanup.push(() => pool.close());
    expect(pool.servers().map((s) => s.address)).toEqual(['tls://127.0.0.1:1']);
    expect(pool.add('tls://127.0.0.1:1')).toBe(false);
    await pool.remove('tls://127.0.0.1:1');
    expect(pool.size).toBe(0);
  });
});

// A WebSocket URL without a port (`wss://h/skein`, as copied from a page or a proxy's config) was
// "not an address". It means 443 (80 for ws://), and is one server with its `:443` spelling: one
// key, one member, one discovery entry's address.
describe('a WebSocket server written without its default port', () => {
  it('has the key of its spelling with the port', () => {
    expect(serverKey('wss://127.0.0.1/skein')).toBe('wss://127.0.0.1:443/skein');
    expect(serverKey('wss://127.0.0.1:443/skein')).toBe('wss://127.0.0.1:443/skein');
    expect(serverKey('WSS://[::1]')).toBe(serverKey('tls://[::1]:443'));
    expect(serverKey('ws://127.0.0.1')).toBe(serverKey('127.0.0.1:80'));
    expect(discoveryEntry({ type: 'chat', id: 'a', address: 'wss://127.0.0.1/skein' }).address).toBe('wss://127.0.0.1:443/skein');
  });

  it('is one member with its spelling with the port, and is refused listed twice so', async () => {
    const pool = new FailoverPool({ transport: wsTransport(), servers: ['wss://127.0.0.1/skein'] });
    cleanup.push(() => pool.close());
    expect(pool.servers().map((s) => s.address)).toEqual(['wss://127.0.0.1:443/skein']);
    expect(pool.add('WSS://127.0.0.1:443/skein')).toBe(false);
    expect(pool.size).toBe(1);
    expect(() => new FailoverPool({ transport: wsTransport(), servers: ['ws://127.0.0.1/skein', 'ws://127.0.0.1:80/skein'] })).toThrow('server ws://127.0.0.1:80/skein is listed twice');
    await pool.remove('wss://127.0.0.1:443/skein');
    expect(pool.size).toBe(0);
  });
});

// DNS names are case-insensitive (RFC 4343): `wss://API.example.com/skein` and
// `wss://api.example.com/skein` were two keys, so two members, each with its own connections, and
// `remove` in the other spelling removed nothing. The key folds a DNS name and an IPv6 literal's
// hex digits (server-key-ipv6-case.test.ts); a URL path and a socket path are case-sensitive.
describe('a server whose host is written in another case', () => {
  it('has the key of its lower-case spelling', () => {
    expect(serverKey('wss://API.Example.com/skein')).toBe('wss://api.example.com:443/skein');
    expect(serverKey('LOCALHOST:1')).toBe('localhost:1');
    expect(serverKey('TLS://Db-1.Internal:7000')).toBe(serverKey('tls://db-1.internal:7000'));
  });

  it('keeps a URL path and a socket path as written', () => {
    expect(serverKey('ws://h:1/Skein')).not.toBe(serverKey('ws://h:1/skein'));
    expect(serverKey('unix:/tmp/A.sock')).toBe('unix:/tmp/A.sock');
    expect(serverKey('/tmp/A.sock')).not.toBe(serverKey('/tmp/a.sock'));
  });

  it('is one member in either spelling, added, listed or removed', async () => {
    const pool = new FailoverPool({ transport: wsTransport(), servers: ['wss://LOCALHOST:1/skein'] });
    cleanup.push(() => pool.close());
    expect(pool.servers().map((s) => s.address)).toEqual(['wss://localhost:1/skein']);
    expect(pool.add('wss://localhost:1/skein')).toBe(false);
    expect(pool.size).toBe(1);
    expect(() => new FailoverPool({ transport: wsTransport(), servers: ['Localhost:1', 'localhost:1'] })).toThrow('server localhost:1 is listed twice');
    await pool.remove('wss://Localhost:1/skein');
    expect(pool.size).toBe(0);
  });
});
