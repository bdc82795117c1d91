import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, formatAddress, parseAddress } from '../src/index.js';

describe('parseAddress', () => {
  it.each([
    ['127.0.0.1:4000', { host: '127.0.0.1', port: 4000 }],
    ['tcp://localhost:1', { host: 'localhost', port: 1 }],
    ['[::1]:9', { host: '::1', port: 9 }],
    ['unix:/tmp/a.sock', { path: '/tmp/a.sock' }],
    ['/tmp/b.sock', { path: '/tmp/b.sock' }],
  ])('reads %s', (s, want) => {
    expect(parseAddress(s)).toEqual(want);
  });

  it.each(['', 'nohost', 'h:99999', 'h:-1', 'unix:'])('rejects %j with InvalidArgument', (s) => {
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
  });
});
