import { cleanups } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { nodeRuntime } from '@skein/runtime-node';
import { describe, expect, it } from 'vitest';
import { FailoverPool, serverKey } from '../src/index.js';

const cleanup = cleanups();

// A pool's key folded an IPv6 literal's case but kept the rest as written: `[::1]:5000` and
// `[0:0:0:0:0:0:0:1]:5000`, one address, were two members (each with its connections), a list
// naming both was not "listed twice", and a discovery entry spelling a configured server
// otherwise added it again. The key writes a literal as RFC 5952 does.
describe('an IPv6 literal in another spelling', () => {
  it.each([
    ['[0:0:0:0:0:0:0:1]:5000', '[0::1]:5000', '[::1]:5000'],
    ['tls://[2001:0DB8:0:0:0:0:0:1]:1', 'wss://[2001:db8::0:1]:1', 'tls://[2001:db8::1]:1'],
    ['ws://[0:0:0:0:0:ffff:7f00:1]:80/skein', 'ws://[::FFFF:127.0.0.1]/skein', 'ws://[::ffff:127.0.0.1]:80/skein'],
    ['[fe80:0::1%Eth0]:1', '[FE80::0:1%Eth0]:1', '[fe80::1%Eth0]:1'],
  ])('%s has the key of %s, %s', (given, other, key) => {
    expect(serverKey(given)).toBe(key);
    expect(serverKey(other)).toBe(key);
  });

  it('is one member: a list naming both is refused, and add and remove by the other find it', async () => {
    const transport = tcpTransport(nodeRuntime);
    expect(() => new FailoverPool({ transport, servers: ['[::1]:5000', '[0:0:0:0:0:0:0:1]:5000'] })).toThrow('server [::1]:5000 is listed twice');
    expect(() => new FailoverPool({ transport, servers: ['[::1]:5000', '[0::1]:5000'] })).toThrow('is listed twice');
    const pool = new FailoverPool({ transport, servers: ['[0:0:0:0:0:0:0:1]:5000'] });
    cleanup.push(() => pool.close());
    expect(pool.servers().map((s) => s.address)).toEqual(['[::1]:5000']);
    // As a discovery entry would announce it.
    expect(pool.add('[::1]:5000')).toBe(false);
    expect(pool.size).toBe(1);
    await pool.remove('[0::0:1]:5000');
    expect(pool.size).toBe(0);
  });

  it('keeps addresses that differ apart, and text that is no IPv6 address only folded', () => {
    expect(serverKey('[::1]:5000')).not.toBe(serverKey('[::2]:5000'));
    expect(serverKey('[1::]:5000')).not.toBe(serverKey('[::1]:5000'));
    expect(serverKey('[Not:An:Ip]:1')).toBe('[not:an:ip]:1');
  });
});
