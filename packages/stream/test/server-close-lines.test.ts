import { silentLogger } from '@skein/core';
import { cleanups, heldHandler, memoryLogger, portOf, suiteCerts, testTls, waitFor, within } from '@skein/test-utils';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { transport } from './harness.js';

/*
 * An operator's log showed `listening` and nothing when the server began to close or was done,
 * and said `"transport":"tcp"` for a TLS listener (found by an operator trial).
 */

const cleanup = cleanups();
const { serverTls } = testTls(suiteCerts());

const linesOf = (logger: ReturnType<typeof memoryLogger>, re: RegExp) => logger.lines.filter((l) => l.level === 'info' && re.test(l.msg ?? ''));

describe('the listening line says TLS where the listener is', () => {
  it.each([
    ['tcp', () => tcpTransport(nodeRuntime), false],
    ['tcp with TLS options', () => tcpTransport(nodeRuntime, { tls: serverTls() }), true],
    ['ws', () => wsTransport(), false],
    ['ws with TLS options (wss)', () => wsTransport({ tls: serverTls() }), true],
  ] as const)('%s', async (_, make, tls) => {
    const logger = memoryLogger();
    const server = new RpcServer({ dispatch: createRouter({}), logger });
    cleanup.push(() => server.close());
    const bound = await server.listen(make(), '127.0.0.1:0');
    const [line] = linesOf(logger, /^listening/);
    expect(line!.msg).toBe(tls ? 'listening (TLS)' : 'listening');
    expect(line!.obj).toMatchObject({ tls, address: { port: portOf(bound) } });
  });
});

describe('close() says when it begins and when it is done', () => {
  it('names the connections and calls in flight, then how long it took and that they ended', async () => {
    const logger = memoryLogger();
    const held = heldHandler();
    const server = new RpcServer({ dispatch: createRouter({ hold: (req) => held.run(req.msg) }, silentLogger), logger });
    const address = `127.0.0.1:${portOf(await server.listen(transport, '127.0.0.1:0'))}`;
    cleanup.push(() => server.close());
    const client = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const call = client.call('hold');
    await waitFor(() => held.running === 1);
    expect(linesOf(logger, /^clos/)).toEqual([]);
    const closed = server.close();
    const [begun] = linesOf(logger, /^closing/);
    expect(begun!.obj).toMatchObject({ connections: 1, inFlight: 1 });
    expect(begun!.msg).toBe('closing: draining 1 connection with 1 call or stream running; new calls refused unrun');
    expect(linesOf(logger, /^closed/)).toEqual([]);
    held.endAll();
    await call;
    await client.close();
    await within(closed, 10_000, 'server close');
    const [done] = linesOf(logger, /^closed/);
    expect(done!.obj).toMatchObject({ ended: 1, cut: 0 });
    expect(done!.obj.ms).toEqual(expect.any(Number));
    expect(done!.msg).toMatch(/^closed after \d+ ms: 1 of 1 calls or streams running at close\(\) ended before closeWaitMs$/);
  });

  it('says how many were cut at closeWaitMs', async () => {
    const logger = memoryLogger();
    const held = heldHandler();
    const server = new RpcServer({ dispatch: createRouter({ hold: (req) => held.run(req.msg) }, silentLogger), logger, closeWaitMs: 200 });
    const address = `127.0.0.1:${portOf(await server.listen(transport, '127.0.0.1:0'))}`;
    const client = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const calls = [client.call('hold').catch(() => 'cut'), client.call('hold').catch(() => 'cut')];
    await waitFor(() => held.running === 2);
    await within(server.close(), 10_000, 'server close');
    expect(await Promise.all(calls)).toEqual(['cut', 'cut']);
    expect(linesOf(logger, /^closing/)[0]!.obj).toMatchObject({ connections: 1, inFlight: 2, closeWaitMs: 200 });
    const [done] = linesOf(logger, /^closed/);
    expect(done!.obj).toMatchObject({ ended: 0, cut: 2 });
    expect(done!.msg).toMatch(/^closed after \d+ ms: 0 of 2 calls or streams running at close\(\) ended before closeWaitMs, 2 cut at it$/);
  });
});
