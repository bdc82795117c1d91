import { describe, expect, it } from 'vitest';
import { urlParts } from '../src/url-parts.js';

// One reading of an address's authority (RFC 3986 §3.2: it ends at the first `/`, `?` or `#`)
// for every reader of a login or a query, where hasUserInfo read three cases of its own.
describe('urlParts', () => {
  it.each([
    ['ws://alice:12/ss@host', { scheme: 'ws://', host: 'alice', port: '12', rest: '/ss@host' }],
    ['ws://alice:pa/ss@host', { scheme: 'ws://', host: 'alice', port: 'pa', rest: '/ss@host' }],
    ['WSS://u:p@[FE80::1]:2/x?y#z', { scheme: 'WSS://', userInfo: 'u:p', host: '[FE80::1]', port: '2', rest: '/x?y#z' }],
    ['wss://h?q', { scheme: 'wss://', host: 'h', rest: '?q' }],
    ['ws://u:1#pw@h', { scheme: 'ws://', host: 'u', port: '1', rest: '#pw@h' }],
    ['a@b@h:1', { scheme: '', userInfo: 'a@b', host: 'h', port: '1', rest: '' }],
    ['[::1]', { scheme: '', host: '[::1]', rest: '' }],
  ])('reads %s', (text, parts) => {
    expect(urlParts(text)).toEqual(parts);
  });
});
