import { ErrorCode } from '@skein/core';
import { discoveryEntry } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { checkedPrefix, parseKey } from '../src/etcd-entry.js';
import { decodeEntry, encodeValue, keyOf } from '../src/index.js';

const entry = discoveryEntry({ type: 'chat', id: 'eu/1', address: 'tcp://10.0.0.5:4000', weight: 2, meta: { zone: 'eu-1', version: '1.4.0' } });

describe('the key layout', () => {
  it('writes <prefix>/<type>/<id> → {address, weight, meta} and reads it back, ids with slashes included', () => {
    expect(keyOf('skein/servers', entry)).toBe('skein/servers/chat/eu/1');
    expect(JSON.parse(encodeValue(entry))).toEqual({ address: '10.0.0.5:4000', weight: 2, meta: { zone: 'eu-1', version: '1.4.0' } });
    expect(decodeEntry('skein/servers', keyOf('skein/servers', entry), encodeValue(entry))).toEqual(entry);
    expect(decodeEntry('p', 'p/chat/a', '{"address":"127.0.0.1:1"}')).toEqual({ type: 'chat', id: 'a', address: '127.0.0.1:1', weight: 1, meta: {} });
  });

  it('names no entry for keys outside the layout', () => {
    for (const key of ['skein/servers2/chat/a', 'skein/servers/chat', 'skein/servers/chat/', 'skein/servers//a', 'other/chat/a']) {
      expect(parseKey('skein/servers', key)).toBeUndefined();
    }
  });

  it('rejects bad values, types with a slash and empty prefixes with InvalidArgument saying what is wrong', () => {
    const bad: [() => unknown, RegExp][] = [
      [() => decodeEntry('p', 'p/chat/a', '{"address":'), /value of p\/chat\/a is not JSON/],
      [() => decodeEntry('p', 'p/chat/a', '[1]'), /not a JSON object/],
      [() => decodeEntry('p', 'p/chat/a', '{"address":"x"}'), /not an address/],
      [() => decodeEntry('p', 'p/chat/a', '{"address":"127.0.0.1:1","weight":-1}'), /weight of entry 'a'/],
      [() => decodeEntry('p', 'p/chat/a', '{"address":"127.0.0.1:1","meta":{"zone":1}}'), /meta.zone/],
      [() => decodeEntry('p', 'q/chat/a', '{"address":"127.0.0.1:1"}'), /not <prefix>\/<type>\/<id>/],
      [() => keyOf('p', discoveryEntry({ type: 'a/b', id: 'x', address: '127.0.0.1:1' })), /may not contain '\/'/],
      [() => checkedPrefix('///'), /must not be empty/],
    ];
    for (const [f, message] of bad) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(message) });
    }
    expect(checkedPrefix('a/b//')).toBe('a/b');
  });
});
