import { describe, expect, it } from 'vitest';
import { decodeCallHead, encodeCallHead, metadataRecord } from '../src/wire/call-head.js';

/** The record a server reads a call's metadata from (`req.metadata`, `ctx.metadata`). */
const decoded = (metadata: Record<string, string>) => {
  const head = encodeCallHead(undefined, metadata);
  return decodeCallHead(head, 0, head.length).metadata;
};

describe("a call's metadata record", () => {
  it('holds exactly the entries sent: "__proto__" stays an entry, nothing is inherited, nothing can be changed', () => {
    const md = decoded({ ['__proto__']: 'p', traceparent: 't' });
    expect(Object.keys(md)).toEqual(['__proto__', 'traceparent']);
    expect(Object.getOwnPropertyDescriptor(md, '__proto__')?.value).toBe('p');
    for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(name in md).toBe(false);
      expect((md as Record<string, unknown>)[name]).toBeUndefined();
    }
    expect(Object.isFrozen(md)).toBe(true);
    expect(() => {
      'use strict';
      (md as Record<string, string>).traceparent = 'changed';
    }).toThrow(TypeError);
    expect(md.traceparent).toBe('t');
  });

  it("each call's record is its own, with the same keys or not", () => {
    const a = decoded({ authorization: 'Bearer a', traceparent: 'ta' });
    const b = decoded({ authorization: 'Bearer b', traceparent: 'tb' });
    const c = decoded({ traceparent: 'tc', authorization: 'Bearer c' });
    expect([a.authorization, b.authorization, c.authorization]).toEqual(['Bearer a', 'Bearer b', 'Bearer c']);
    expect(Object.keys(c)).toEqual(['traceparent', 'authorization']);
    expect(JSON.parse(JSON.stringify(b))).toEqual({ authorization: 'Bearer b', traceparent: 'tb' });
  });

  it('made by metadataRecord (a worker rebuilding it) with no entries is the one empty record a call without metadata has', () => {
    const none = decoded({});
    expect(metadataRecord(undefined)).toBe(none);
    expect(metadataRecord({})).toBe(none);
    expect(Object.isFrozen(none)).toBe(true);
    expect('constructor' in none).toBe(false);
    const some = metadataRecord({ constructor: 'c' });
    expect(some).not.toBe(none);
    expect({ ...some }).toEqual({ constructor: 'c' });
    expect(Object.isFrozen(some)).toBe(true);
  });
});
