import { ErrorCode } from '@skein/core';
import { cleanups, memoryLogger } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type Authenticate } from '../src/index.js';
import { transport as tcp } from './harness.js';

const cleanup = cleanups();
const utf8 = new TextDecoder();

/**
 * A server whose action 1 answers with the principal, the hook's timeout far off: a verdict that
 * comes at all comes from the hook, never from authTimeoutMs.
 */
async function serve(authenticate: Authenticate) {
  const logger = memoryLogger();
  const server = new RpcServer({ dispatch: createRouter({ 1: (req) => new TextEncoder().encode(String(req.principal)) }), logger, authenticate, authTimeoutMs: 600_000 });
  cleanup.push(() => server.close());
  const a = await server.listen(tcp, '127.0.0.1:0');
  return { logger, address: 'port' in a ? `${a.host}:${a.port}` : '' };
}

const connect = (address: string) =>
  // Bounded well under the test's timeout: a verdict that never comes fails the connect (Unreachable), not the run.
  ClientStream.connect({ transport: tcp, address, credentials: 'token', keepaliveMs: 0, connectTimeoutMs: 5_000 }).then((s) => (cleanup.push(() => s.destroy()), s));

// The hook's grant is the application's object, read by the server: whatever else it carries, and
// however its fields are read, the hook's verdict is what the client gets, and the server (whose
// process an unhandled rejection ends) goes on.
describe("the server reads an authenticate hook's grant as the grant it is", () => {
  it('accepts a grant that carries a field named code (once read as a refusal, and the verdict lost to a TypeError)', async () => {
    // A session record handed back whole, say: the extra fields are the application's.
    const s = await serve(() => ({ principal: 'ada', code: 'S-17', detail: 'from the session store' }) as never);
    const stream = await connect(s.address);
    expect(utf8.decode((await stream.call(1)).msg)).toBe('ada');
    expect(s.logger.lines.filter((l) => l.msg === 'authentication refused')).toEqual([]);
  });

  it('refuses, at once and logged, a grant whose field throws as it is read (once an unhandled rejection, the verdict left to authTimeoutMs)', async () => {
    const s = await serve(() => ({
      principal: 'ada',
      get expiresInMs(): number {
        throw new Error('session clock unreadable');
      },
    }));
    const err = await connect(s.address).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Unauthenticated, message: 'authentication failed' });
    const failed = s.logger.lines.filter((l) => l.level === 'error' && l.msg === 'authenticate hook failed: credentials refused');
    expect(failed.map((l) => (l.obj.err as Error).message)).toEqual(['session clock unreadable']);
  });
});
