import { ErrorCode, RpcError, parseAddress, type Transport } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { cleanups, suiteCerts, testTls } from '@skein/test-utils';
import { uwsTransport, wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

const cleanup = cleanups();

const outcome = (p: Promise<{ close(): unknown }>): Promise<unknown> => p.then((x) => (void x.close(), 'resolved'), (e: unknown) => e);
const invalid = (e: unknown): string => {
  expect(RpcError.is(e, ErrorCode.InvalidArgument), String(e)).toBe(true);
  return (e as RpcError).message;
};

// A tcp:// address was dialled as ws://: the scheme of another transport went unnoticed.
// Refused now, before anything is dialled or bound. tls:// names TLS, not a transport (below).
describe.each([
  ['wsTransport', () => wsTransport()],
  ['uwsTransport', () => uwsTransport()],
] as [string, () => Transport][])('%s refuses a TCP transport address', (name, make) => {
  it('at connect, to a real WebSocket server of its kind', async () => {
    const transport = make();
    const listener = await transport.listen(parseAddress('127.0.0.1:0'), spec, (c) => cleanup.push(() => c.close()));
    cleanup.push(() => listener.close());
    const { port } = listener.address as { port: number };
    expect(invalid(await outcome(transport.connect(parseAddress(`tcp://127.0.0.1:${port}`), spec)))).toBe(
      `${name} cannot use tcp://127.0.0.1:${port}: a tcp:// address is for tcpTransport; ${name} takes host:port, tls://host:port, ws://host[:port][/path], wss://host[:port][/path], unix:/path, tls+unix:/path or /path`,
    );
    // Its own forms still connect.
    for (const form of [`127.0.0.1:${port}`, `ws://127.0.0.1:${port}`, `ws://127.0.0.1:${port}/skein`]) expect(await outcome(transport.connect(parseAddress(form), spec))).toBe('resolved');
  });

  // An Address object marked tcp but with a URL path: refused, its query (a token's place) not shown.
  it("names the address without a URL's query", async () => {
    const transport = make();
    const address = { host: '127.0.0.1', port: 1, urlPath: '/skein?token=SECRET', scheme: 'tcp' } as const;
    for (const refused of [transport.connect(address, spec), transport.listen(address, spec, () => {})]) {
      const why = invalid(await outcome(refused));
      expect(why).toMatch(new RegExp(`^${name} cannot use tcp://ws://127\\.0\\.0\\.1:1/skein\\?…: a tcp:// address is for tcpTransport`));
      expect(why).not.toContain('SECRET');
    }
  });

  it('at listen', async () => {
    const transport = make();
    invalid(await outcome(transport.listen(parseAddress('tcp://127.0.0.1:0'), spec, () => {})));
    const listener = await transport.listen(parseAddress('ws://127.0.0.1:0'), spec, () => {});
    cleanup.push(() => listener.close());
  });
});

// A wss server's canonical address was `tls://host:port` until ws:// kept its scheme (925ebd8),
// and discovery entries written then hold it: 925ebd8 refused it (InvalidArgument on every call).
// tls:// asks for TLS on any transport, as docs/tls.md says: here, wss://.
describe.each([
  ['wsTransport', wsTransport],
  ['uwsTransport', uwsTransport],
] as [string, typeof wsTransport][])('%s takes a tls:// address as wss', (_name, make) => {
  const { serverTls, clientTls } = testTls(suiteCerts());

  it('listens on tls://, and a client dials tls:// to a real wss server', async () => {
    const listener = await make({ tls: serverTls() }).listen(parseAddress('tls://127.0.0.1:0'), spec, (c) => cleanup.push(() => c.close()));
    cleanup.push(() => listener.close());
    const { port } = listener.address as { port: number };
    const client = wsTransport({ tls: clientTls() });
    for (const form of [`tls://127.0.0.1:${port}`, `wss://127.0.0.1:${port}`]) expect(await outcome(client.connect(parseAddress(form), spec))).toBe('resolved');
  });
});
