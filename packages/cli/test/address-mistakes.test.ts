import { suiteCerts, tmpSocketPath } from '@skein/test-utils';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { skein } from './skein-bin.js';

// Mistakes an operator makes in ADDR and the TLS flags: each said for what it is, naming the file
// or the character at fault, before connecting (exit 2), never echoing a password.

const certs = suiteCerts();
const file = (name: string): string => path.join(certs.dir, name);

describe("a '#' in a WebSocket URL", () => {
  it.each([
    // Read as host "alice", port "s3": "not a WebSocket URL" said nothing of the '#'.
    ['ws://alice:s3#cret@127.0.0.1:1', /^skein: "ws:\/\/127\.0\.0\.1:1": a '#' starts a URL fragment, so nothing after it is read as the address \(percent-encode a '#' in a path or password as %23; a user and password in the URL are not sent anyway: remove them\)/],
    // Read as host "alice", port 1: dialled, the wrong host.
    ['wss://alice:1#cret@127.0.0.1:2/rpc', /^skein: "wss:\/\/127\.0\.0\.1:2\/rpc": a '#' starts a URL fragment/],
    ['ws://127.0.0.1:1/rpc#x', /^skein: "ws:\/\/127\.0\.0\.1:1\/rpc#x": a '#' starts a URL fragment, .*%23\) \(want ws:\/\/host\[:port\]\[\/path\]\)/],
  ])('%s is refused, saying the # starts a fragment (exit 2)', async (addr, message) => {
    const r = await skein('ping', addr);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('cret');
  });
});

// A socket path's `@` is its own: `/run/a@b.sock` was refused as "a user and password in the
// address" (only `unix:/run/a@b.sock` was let through). It is dialled, as core's parseAddress reads it.
describe("an '@' in a Unix socket path", () => {
  it.each(['', 'unix:'])('%s/…/a@b.sock is dialled, not refused as a login (exit 1 with nothing there)', async (prefix) => {
    const r = await skein('ping', `${prefix}${tmpSocketPath('skein-cli-a@b')}`);
    expect(r.stderr).toMatch(/^error: Unreachable \(rpc_unreachable\): cannot connect/);
    expect(r.code).toBe(1);
  });
});

describe('a key and certificate mixed up in --cert, --key and --ca', () => {
  it.each([
    ['swapped', ['--cert', 'client.key', '--key', 'client.crt'], /^skein: --cert \S+\/client\.key holds a PRIVATE KEY, not a CERTIFICATE \(--cert and --key swapped\?\)\n/],
    ['the key as both', ['--cert', 'client.key', '--key', 'client.key'], /^skein: --cert \S+\/client\.key holds a PRIVATE KEY, not a CERTIFICATE\n/],
    ['the certificate as both', ['--cert', 'client.crt', '--key', 'client.crt'], /^skein: --key \S+\/client\.crt holds a CERTIFICATE, not a PRIVATE KEY\n/],
    ['a certificate request as the certificate', ['--cert', 'client.csr', '--key', 'client.key'], /^skein: --cert \S+\/client\.csr holds a CERTIFICATE REQUEST, not a CERTIFICATE\n/],
    ['the key as the CA', ['--ca', 'ca.key'], /^skein: --ca \S+\/ca\.key holds a PRIVATE KEY, not a CERTIFICATE\n/],
  ])('%s: names the file and what it holds, before connecting (exit 2)', async (_, flags, message) => {
    for (const addr of ['tls://127.0.0.1:1', 'wss://127.0.0.1:1']) {
      const r = await skein('ping', addr, ...flags.map((f) => (f.startsWith('--') ? f : file(f))));
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(2);
      // Labels only, never the key's contents.
      expect(r.stderr).not.toContain(certs.client.key.split('\n')[1]!);
    }
  });
});

// Core's reason was caught and replaced by "not an address", which did not say what was wrong.
describe("core's own reason for an address it refuses", () => {
  it.each(['127.0.0.1:99999', 'tcp://127.0.0.1:99999', 'tls://127.0.0.1:70000'])('%s names the port out of range (exit 2)', async (addr) => {
    const r = await skein('ping', addr);
    expect(r.stderr).toMatch(/^skein: not an address: "[^"]+": port \d+ is not in 0\.\.65535 \(use host:port, /);
    expect(r.code).toBe(2);
  });
});
