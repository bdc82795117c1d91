import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, formatAddress, parseAddress } from '../src/index.js';

describe('parseAddress', () => {
  it.each([
    ['127.0.0.1:4000', { host: '127.0.0.1', port: 4000 }],
    ['tcp://localhost:1', { host: 'localhost', port: 1 }],
    ['[::1]:9', { host: '::1', port: 9 }],
    ['unix:/tmp/a.sock', { path: '/tmp/a.sock' }],
    ['/tmp/b.sock', { path: '/tmp/b.sock' }],
    ['tls://db-1.internal:7000', { host: 'db-1.internal', port: 7000, tls: true }],
    ['tls://[::1]:7000', { host: '::1', port: 7000, tls: true }],
    ['tls+unix:/tmp/c.sock', { path: '/tmp/c.sock', tls: true }],
    ['wss://example.com:443/rpc/v1?x=1', { host: 'example.com', port: 443, tls: true, urlPath: '/rpc/v1?x=1' }],
    ['wss://example.com:443', { host: 'example.com', port: 443, tls: true }],
    ['ws://127.0.0.1:80/skein', { host: '127.0.0.1', port: 80, urlPath: '/skein' }],
  ])('reads %s', (s, want) => {
    expect(parseAddress(s)).toEqual(want);
  });

  it.each(['', 'nohost', 'h:99999', 'h:-1', 'unix:', 'tls://nohost', 'wss://h', 'tls://h:1/path', 'https://h:1'])('rejects %j with InvalidArgument', (s) => {
    try {
      parseAddress(s);
      expect.unreachable();
    } catch (e) {
      expect(RpcError.is(e, ErrorCode.InvalidArgument)).toBe(true);
    }
  });

  it('formats back', () => {
    expect(formatAddress({ host: '::1', port: 1 })).toBe('[::1]:1');
    expect(formatAddress({ path: '/x' })).toBe('unix:/x');
    for (const s of ['tls://h:1', 'tls+unix:/x', 'wss://[::1]:2/p', 'ws://h:3/p']) expect(formatAddress(parseAddress(s))).toBe(s);
  });
});
