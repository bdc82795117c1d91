import { ErrorCode, RpcError, parseAddress, type Transport } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { cleanups } from '@skein/test-utils';
import { uwsTransport, wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

const cleanup = cleanups();

const outcome = (p: Promise<{ close(): unknown }>): Promise<unknown> => p.then((x) => (void x.close(), 'resolved'), (e: unknown) => e);
const invalid = (e: unknown): string => {
  expect(RpcError.is(e, ErrorCode.InvalidArgument), String(e)).toBe(true);
  return (e as RpcError).message;
};

// A tcp:// address was dialled as ws://, and a tls:// one as wss://: the scheme of another
// transport went unnoticed. Refused now, before anything is dialled or bound.
describe.each([
  ['wsTransport', () => wsTransport()],
  ['uwsTransport', () => uwsTransport()],
] as [string, () => Transport][])('%s refuses a TCP transport address', (name, make) => {
  it('at connect, to a real WebSocket server of its kind', async () => {
    const transport = make();
    const listener = await transport.listen(parseAddress('127.0.0.1:0'), spec, (c) => cleanup.push(() => c.close()));
    cleanup.push(() => listener.close());
    const { port } = listener.address as { port: number };
    for (const [form, shown] of [[`tcp://127.0.0.1:${port}`, `tcp://127.0.0.1:${port}`], [`tls://127.0.0.1:${port}`, `tls://127.0.0.1:${port}`]]) {
      expect(invalid(await outcome(transport.connect(parseAddress(form!), spec)))).toBe(
        `${name} cannot use ${shown}: tcp:// and tls:// addresses are for tcpTransport; ${name} takes host:port, ws://host:port[/path], wss://host:port[/path], unix:/path or /path`,
      );
    }
    // Its own forms still connect.
    for (const form of [`127.0.0.1:${port}`, `ws://127.0.0.1:${port}`, `ws://127.0.0.1:${port}/skein`]) expect(await outcome(transport.connect(parseAddress(form), spec))).toBe('resolved');
  });

  it('at listen', async () => {
    const transport = make();
    for (const form of ['tcp://127.0.0.1:0', 'tls://127.0.0.1:0']) invalid(await outcome(transport.listen(parseAddress(form), spec, () => {})));
    const listener = await transport.listen(parseAddress('ws://127.0.0.1:0'), spec, () => {});
    cleanup.push(() => listener.close());
  });
});
