import { describe, expect, it } from 'vitest';
import { skein } from './skein-bin.js';

// The CLI says --cert, --key, --ca and --servername where core's errors name a program's tls.cert,
// tls.key, tls.ca and tls.servername options. Only those words: a host whose name begins so (a
// tls.ca.example.com, a tls.cert.internal) is the operator's address, and an error that quotes it
// must quote it as typed, or the operator chases a host that does not exist. Real CLI runs: names
// under .invalid never resolve, so the error quotes the name at once.

describe('an error that quotes a host named like a TLS option', () => {
  it.each(['tls.ca.invalid', 'tls.cert.invalid', 'api.tls.key.invalid'])('keeps %s as typed', async (host) => {
    const r = await skein('ping', `${host}:4000`, '--timeout', '5000');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Unreachable \(rpc_unreachable\)/);
    expect(r.stderr).toContain(`${host}:4000`);
    expect(r.stderr).not.toContain('--');
  });
});
