import { describe, expect, it } from 'vitest';
import { inFlagWords } from '../src/flag-words.js';

// A message may end in a list of options (`check tls.cert, tls.key`): every word of it is a flag
// to the CLI's user, the last too. A lone name at the end (`getaddrinfo ENOTFOUND tls.ca`, as Node
// quotes a host) is the operator's, kept as typed (flag-words-core-phrases.test.ts: anywhere else too).

describe('flag words at the end of a message', () => {
  it('rewrites every option of a list the message ends with', () => {
    expect(inFlagWords('the server closed: check tls.cert, tls.key')).toBe('the server closed: check --cert, --key');
    expect(inFlagWords('a TLS listener needs tls.cert and tls.key')).toBe('a TLS listener needs --cert and --key');
  });

  it('keeps a lone host the message ends with as typed', () => {
    expect(inFlagWords('cannot reach tls.ca:443 for 5 ms: getaddrinfo ENOTFOUND tls.ca')).toBe('cannot reach tls.ca:443 for 5 ms: getaddrinfo ENOTFOUND tls.ca');
  });
});
