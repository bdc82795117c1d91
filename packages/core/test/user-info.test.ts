import { describe, expect, it } from 'vitest';
import { ADDRESS_FORMS } from '../src/address.js';
import { formatAddress, hasUserInfo, parseAddress, shownAddress, withoutUserInfo } from '../src/index.js';

// An `@` was taken for a login's end anywhere before a query: a legal `@` in a ws URL's path
// (`ws://h:1/users/@me`) was refused as "a user and password", and a message cut everything up to
// it (`"ws://me"`). Only the authority's `@` is a login's, or one after an authority that a
// password's `/` or `#` cut short; a password is still never echoed.
describe("an '@' after a ws URL's authority", () => {
  it.each([
    ['ws://h:1/users/@me', { host: 'h', port: 1, urlPath: '/users/@me', scheme: 'ws' }],
    ['wss://h/a@b/c', { host: 'h', port: 443, urlPath: '/a@b/c', scheme: 'ws', tls: true }],
    ['ws://[::1]:1/@x', { host: '::1', port: 1, urlPath: '/@x', scheme: 'ws' }],
  ])('%s is read, its path kept: no login', (given, want) => {
    expect(hasUserInfo(given)).toBe(false);
    expect(withoutUserInfo(given)).toBe(given);
    expect(parseAddress(given)).toEqual(want);
  });

  it("is shown as written in a message about something else (a fragment's `@` after a path)", () => {
    expect(withoutUserInfo('wss://h/skein#frag@x')).toBe('wss://h/skein#frag@x');
    expect(() => parseAddress('wss://h/skein#frag@x')).toThrow(`not an address: "wss://h/skein#frag@x" (want ${ADDRESS_FORMS})`);
  });
});

describe("a login's `@`, in the authority or after one a password cut short", () => {
  it.each([
    ['wss://user:pw@h/skein', 'wss://h/skein'],
    ['user:pw@h:1', 'h:1'],
    ['user:p/w@h:1', 'h:1'],
    ['ws://user:p#w@h/skein', 'ws://h/skein'],
    ['ws://user:/pw@h/skein', 'ws://h/skein'],
  ])('%s is refused, shown as %s', (given, shown) => {
    expect(hasUserInfo(given)).toBe(true);
    expect(withoutUserInfo(given)).toBe(shown);
    expect(() => parseAddress(given)).toThrow(`${JSON.stringify(shown)}: a user and password in the address are not sent`);
  });

  it("never echoes a password a `?` or `#` ended early, in a \"not an address\" either", () => {
    for (const given of ['ws://user:p?w@h/skein', 'wss://user:1#pw@h:2/rpc', 'ws://user:p/w?x@h']) {
      expect(withoutUserInfo(given)).not.toMatch(/user|p\?w|pw|p\/w/);
      expect(() => parseAddress(given)).toThrow(/^(not an address: )?"wss?:\/\/h(:2\/rpc|\/skein)?"/);
    }
  });
});

// By RFC 3986 the authority ends at the first `/`, `?` or `#`: `ws://alice:12/ss@host` is host
// alice, port 12, path `/ss@host`; its `@` is the path's, no login. A port that is no number, or a
// fragment right after the authority (no address has one), is a password cut short instead.
describe('an authority that reads as `user:pw` but is `host:port`', () => {
  it.each([
    ['ws://alice:12/ss@host', { host: 'alice', port: 12, urlPath: '/ss@host', scheme: 'ws' }],
    ['ws://alice:12?ss@host', { host: 'alice', port: 12, urlPath: '/?ss@host', scheme: 'ws' }],
    ['alice:12/ss@host:1', undefined],
  ])('%s is no login', (given, want) => {
    expect(hasUserInfo(given)).toBe(false);
    expect(withoutUserInfo(given)).toBe(given);
    if (want === undefined) return void expect(() => parseAddress(given)).toThrow(`not an address: ${JSON.stringify(given)}`);
    expect(parseAddress(given)).toEqual(want);
    // What keys and dials it, and what names it, say the same host.
    expect(formatAddress(parseAddress(given))).toBe(given.replace('12?', '12/?'));
    expect(shownAddress(parseAddress(given))).toMatch(/^ws:\/\/alice:12\/(ss@host|\?…)$/);
  });

  // tcp://, tls:// and `host:port` have no query: their `?` then `@` is a password's `?`, whatever the
  // port reads as (`tcp://alice:1234?secret@db:5432` was no login, shown `tcp://alice:1234?…`).
  it.each([
    ['tcp://alice:1234?secret@db:5432', 'tcp://db:5432'],
    ['tls://alice:1234?secret@db:5432', 'tls://db:5432'],
    ['alice:1234?secret@db:5432', 'db:5432'],
    ['tcp://alice:12/x?secret@db:5432', 'tcp://db:5432'],
    ['tcp://alice:1?se@cr?et@db:5432', 'tcp://db:5432'],
  ])('%s, with no query to have, is a login cut short, shown as %s', (given, shown) => {
    expect(hasUserInfo(given)).toBe(true);
    expect(withoutUserInfo(given)).toBe(shown);
    expect(() => parseAddress(given)).toThrow(`${JSON.stringify(shown)}: a user and password in the address are not sent`);
  });

  it.each([
    ['ws://alice:pa/ss@host', 'ws://host'],
    ['ws://alice:pa?ss@host/skein', 'ws://host/skein'],
    ['ws://alice:12#ss@host', 'ws://host'],
    ['ws://alice:p/w@x@host:1/skein?mail=a@b', 'ws://host:1/skein?mail=a@b'],
  ])('%s, whose port is no number or with a fragment, is a login cut short, shown as %s', (given, shown) => {
    expect(hasUserInfo(given)).toBe(true);
    expect(withoutUserInfo(given)).toBe(shown);
  });
});
