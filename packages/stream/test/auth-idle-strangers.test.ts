import { ErrorCode } from '@skein/core';
import { ManualClock, cleanups, memoryLogger, rawConnect, waitFor, within, type RawSocket } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { AUTH_ACTION, AUTH_ENTRY, MAX_CREDENTIALS } from '../src/wire/auth.js';
import { HelloKind, receiveLimitsEntry, u32Entry } from '../src/wire/hello.js';
import { HEAD_ACTION } from '../src/wire/extension-frames.js';
import { REFUSED_LINGER_MS } from '../src/server/conn-auth.js';
import { encodeCallHead } from '../src/wire/call-head.js';
import { golden } from './golden.js';
import { helloOffer, requestFrame as request, responseFrames, transport as tcp } from './harness.js';

const cleanup = cleanups();
const text = new TextEncoder();

/** A hello that offers auth and the call heads a stranger's frames use. */
const hello = helloOffer([receiveLimitsEntry(1 << 20, 1 << 20), u32Entry(HelloKind.CallHead), AUTH_ENTRY]);

async function stranger(address: string): Promise<RawSocket> {
  const peer = await rawConnect(address);
  cleanup.push(() => peer.destroy());
  return peer;
}

// docs/auth.md, "Requiring auth": refused calls do not count as activity, so the idle timeout
// closes a connection that never authenticates, however much it sends; otherwise strangers
// calling now and then would hold every place under maxConnections for good. One whose
// credentials were refused is closed sooner, REFUSED_LINGER_MS after the server ended its side.
describe('a connection that does not authenticate is closed, whatever it keeps sending', () => {
  it('one that never presents credentials once idle; one whose credentials were refused and that holds its side open REFUSED_LINGER_MS after the refusal, well before idle (being refused keeps no place); while a client that authenticated is served', async () => {
    const clock = new ManualClock();
    const logger = memoryLogger();
    let dispatched = 0;
    const server = new RpcServer({
      dispatch: createRouter({ 1: (req) => (dispatched++, text.encode(String(req.principal))) }),
      logger,
      clock,
      // Well past the linger: the refused one's close is the linger's, not the idle timeout's.
      idleTimeoutMs: 3 * REFUSED_LINGER_MS,
      tickMs: 1000,
      authenticate: ({ text: token }) => (token === 'good' ? { principal: 'ada' } : undefined),
    });
    cleanup.push(() => server.close());
    const a = await server.listen(tcp, '127.0.0.1:0');
    const address = 'port' in a ? `${a.host}:${a.port}` : '';
    const client = await ClientStream.connect({ transport: tcp, address, credentials: 'good', keepaliveMs: 0 });
    cleanup.push(() => client.destroy());

    // Never presents: hello, then refused calls, pings, heads and credentials too large to judge.
    const silent = await stranger(address);
    silent.write(hello);
    // Presents wrong ones: refused, the server ends its side; this peer keeps its own open, calling on.
    const refused = await stranger(address);
    refused.write(hello);
    refused.write(request(AUTH_ACTION, 1, text.encode('wrong')));
    await within(refused.closedByPeer, 5000, "the server's end after the refusal");
    await waitFor(() => server.connections === 3, { what: 'three connections' });

    // Ticks until only the client is left (the server knows the refused one's end only by its own close).
    for (let t = 0; t < 10 && server.connections > 1; t++) {
      if (t * 1000 === REFUSED_LINGER_MS) {
        // The linger since the refusal is over, the idle timeout not: the refused one is closed, the silent one not yet.
        await waitFor(() => server.connections === 2, { what: 'the refused one closed after the linger' });
        expect(silent.peerClosed).toBe(false);
      }
      refused.write(request(1, 100 + t));
      const answers = responseFrames(silent.received()).length;
      silent.write(new Uint8Array([...request(1, 100 + t), ...golden.ping, ...request(HEAD_ACTION, 200 + t, encodeCallHead(undefined, { k: 'v' })), ...request(1, 200 + t)]));
      silent.write(request(AUTH_ACTION, 300 + t, new Uint8Array(MAX_CREDENTIALS + 1)));
      // Its refusals (two calls, the credentials) and the pong: read before the tick runs.
      await waitFor(() => silent.peerClosed || responseFrames(silent.received()).length >= answers + 4, { what: "the stranger's answers" });
      expect(new TextDecoder().decode((await client.call(1)).msg)).toBe('ada');
      clock.advance(1000);
    }
    await within(silent.closedByPeer, 5000, 'the idle close of the one that never presented');
    await waitFor(() => server.connections === 1, { what: 'only the authenticated client left' });
    const silentWords = responseFrames(silent.received()).filter((r) => r.flag === 2).map((r) => new TextDecoder().decode(r.body));
    expect(new Set(silentWords)).toEqual(new Set([`rpc_unauthenticated:credentials of ${MAX_CREDENTIALS + 1} bytes exceed ${MAX_CREDENTIALS}`, 'rpc_unauthenticated:call sent before authentication completed']));
    expect(logger.lines.filter((l) => l.msg === 'closing idle connection')).toHaveLength(1);
    expect(logger.lines.filter((l) => l.msg === 'closing connection: its peer held it open after its credentials were refused')).toHaveLength(1);
    // Only the authenticated client's calls ran, and it is still served.
    const before = dispatched;
    expect(new TextDecoder().decode((await client.call(1)).msg)).toBe('ada');
    expect(dispatched).toBe(before + 1);
    expect(client.state).toBe('open');
  });
});
