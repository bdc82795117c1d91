import { ManualClock, cleanups, memoryLogger, rawConnect, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { AUTH_ACTION, AUTH_ENTRY } from '../src/wire/auth.js';
import { receiveLimitsEntry } from '../src/wire/hello.js';
import { REFUSED_LINGER_MS } from '../src/server/conn-auth.js';
import { helloOffer, requestFrame as request, responseFrames, transport as tcp } from './harness.js';

const cleanup = cleanups();
const text = new TextEncoder();
const utf8 = new TextDecoder();

// docs/auth.md, "Requiring auth": after refusing a connection's first credentials (or giving up
// on them at authTimeoutMs), the server ends its side; a peer that holds its own open is closed
// REFUSED_LINGER_MS later, as after a malformed frame, not at idleTimeoutMs (120 s by default):
// being refused must not let a stranger keep a place under maxConnections.
describe('a peer whose first credentials were refused and that holds its side open', () => {
  it.each([
    ['refused by the hook', 'wrong', 'rpc_unauthenticated:credentials refused'],
    ['timed out at authTimeoutMs', 'hang', 'rpc_unauthenticated:authentication timed out after 1000 ms'],
  ])('%s: reads the refusal and the end, and its place is free REFUSED_LINGER_MS later, not at the idle timeout', async (_what, token, words) => {
    const clock = new ManualClock();
    const logger = memoryLogger();
    const judged: string[] = [];
    const server = new RpcServer({
      dispatch: createRouter({ 1: (req) => text.encode(String(req.principal)) }),
      logger,
      clock,
      maxConnections: 1,
      authTimeoutMs: 1000,
      authenticate: ({ text: t }) => (judged.push(t), t === 'good' ? { principal: 'ada' } : t === 'hang' ? new Promise<undefined>(() => {}) : undefined),
    });
    cleanup.push(() => server.close());
    const a = await server.listen(tcp, '127.0.0.1:0');
    const address = 'port' in a ? `${a.host}:${a.port}` : '';

    const stranger = await rawConnect(address);
    cleanup.push(() => stranger.destroy());
    stranger.write(new Uint8Array([...helloOffer([receiveLimitsEntry(1 << 20, 1 << 20), AUTH_ENTRY]), ...request(AUTH_ACTION, 1, text.encode(token))]));
    await waitFor(() => judged.length === 1, { what: 'the hook run' });
    if (token === 'hang') clock.advance(1000);
    // The refusal, then the server's end: what the peer reads is as it was.
    expect(await within(stranger.closedByPeer, 5_000, "the server's end after the refusal")).toBe('end');
    const refusal = responseFrames(stranger.received()).find((r) => r.seq === 1);
    expect(refusal && utf8.decode(refusal.body)).toBe(words);
    // Held open by the peer, it still holds the one place.
    expect(server.connections).toBe(1);

    clock.advance(REFUSED_LINGER_MS);
    await waitFor(() => server.connections === 0, { what: 'the refused connection closed after the linger' });
    expect(logger.lines.filter((l) => l.msg === 'closing connection: its peer held it open after its credentials were refused')).toHaveLength(1);
    expect(logger.lines.filter((l) => l.msg === 'closing idle connection')).toEqual([]);
    // The place is free: a client with good credentials gets in and is served.
    const client = await ClientStream.connect({ transport: tcp, address, credentials: 'good', keepaliveMs: 0, connectTimeoutMs: 5_000 });
    cleanup.push(() => client.destroy());
    expect(utf8.decode((await client.call(1)).msg)).toBe('ada');
  });
});
