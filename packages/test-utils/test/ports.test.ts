import { parseAddress } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { freeStablePort, portOf } from '../src/ports.js';

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

describe('freeStablePort: a port no bind to 0 or outgoing connection takes while its server is down', () => {
  it("is below the kernel's ephemeral range, and free: a server listens on it", async () => {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    for (let i = 0; i < 20; i++) {
      const port = await freeStablePort();
      expect(port).toBeLessThan(low!);
      const srv = net.createServer();
      await new Promise<void>((resolve, reject) => (srv.once('error', reject), srv.listen(port, '127.0.0.1', resolve)));
      await new Promise((resolve) => srv.close(resolve));
    }
  });
});
