import { parseAddress } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { portOf } from '../src/ports.js';

describe('portOf: the TCP port a listener is bound to', () => {
  it('is the port of a host address, whatever its scheme', () => {
    expect(portOf(parseAddress('127.0.0.1:40123'))).toBe(40123);
    expect(portOf(parseAddress('tls://[::1]:443'))).toBe(443);
    expect(portOf(parseAddress('ws://localhost:65535/skein'))).toBe(65535);
  });

  it("throws on a Unix socket's address instead of giving 0", () => {
    for (const text of ['unix:/tmp/skein.sock', 'tls+unix:/tmp/skein.sock', '/tmp/skein.sock']) {
      expect(() => portOf(parseAddress(text))).toThrow(TypeError);
      expect(() => portOf(parseAddress(text))).toThrow(/portOf: \{"path":"\/tmp\/skein\.sock".*\} is a Unix socket's address/);
    }
  });

  it('throws on a port that was never bound (the 0 a listen address asks with)', () => {
    expect(() => portOf(parseAddress('127.0.0.1:0'))).toThrow(RangeError);
    expect(() => portOf(parseAddress('127.0.0.1:0'))).toThrow('portOf: port 0 of {"host":"127.0.0.1","port":0} is not a bound port (1..65535)');
  });
});
