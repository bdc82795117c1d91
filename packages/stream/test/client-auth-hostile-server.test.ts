import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, startRazorServer, type RazorAnswer } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream } from '../src/index.js';
import { AUTH_ACTION, AUTH_ENTRY } from '../src/wire/auth.js';
import { HelloRole, encodeHello } from '../src/wire/hello.js';
import { HELLO_ACTION } from '../src/wire/protocol.js';
import { transport as tcp } from './harness.js';

const cleanup = cleanups();

/**
 * A server that claims to authenticate (its hello's answer asks for the credentials) and answers
 * them with `verdict`: a raw server, answering what no Skein server would.
 */
async function claimsToAuthenticate(verdict: () => RazorAnswer | Promise<RazorAnswer>) {
  const s = await startRazorServer({ [HELLO_ACTION]: () => encodeHello(HelloRole.Answer, [AUTH_ENTRY]), [AUTH_ACTION]: verdict });
  cleanup.push(() => s.close());
  return s;
}

const connect = (address: string) =>
  ClientStream.connect({ transport: tcp, address, credentials: 'token', keepaliveMs: 0, connectTimeoutMs: 500 }).then((s) => (cleanup.push(() => s.destroy()), s));

// docs/auth.md, "The handshake": connect() waits for the verdict at most connectTimeoutMs, and
// fails with a typed error; a hostile server's answer is read as far as it goes and no further.
describe('a client with credentials, against a server that claims to authenticate', () => {
  it('that never answers them: the connect fails Unreachable (safe to retry) once connectTimeoutMs passes', async () => {
    const s = await claimsToAuthenticate(() => new Promise<never>(() => {}));
    const err = await connect(s.address).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe', message: expect.stringMatching(/gave no verdict on the credentials within 500 ms$/) });
    // They were sent: the server asked for them.
    expect(s.seen.filter((r) => r.action === AUTH_ACTION)).toHaveLength(1);
  });

  it.each<[string, RazorAnswer, ErrorCode, RegExp]>([
    ['a grant too short to hold its ttl', new Uint8Array([1, 2]), ErrorCode.Decode, /^answer to the credentials: auth grant of 2 bytes, expected 4$/],
    ['an error string no Skein peer sends', { error: 'no thanks' }, ErrorCode.Unauthenticated, /^credentials refused$/],
  ])('that answers them with %s: the connect fails with a typed error, at once', async (_what, answer, code, message) => {
    const s = await claimsToAuthenticate(() => answer);
    const err = await connect(s.address).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code, message: expect.stringMatching(message) });
  });
});
