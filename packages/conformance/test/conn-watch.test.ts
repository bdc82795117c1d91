// The kit watches both sides' connections so that a scenario that hangs says which report never
// came, and its last test fails a transport that reports a close other than once. Each check runs
// here against a real TCP transport with one fault put in, and against the right one.
import { formatAddress } from '@skein/core';
import { runtime } from '@skein/runtime';
import { ClientStream, RpcServer, createRouter } from '@skein/stream';
import { waitFor } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import { watchConns, type ConnWatch } from '../src/conn-watch.js';
import { watchListenerLeaks } from '../src/listener-leaks.js';
import { mutantTransport, type Faults } from './mutant-transports.js';

const tcp = tcpTransport(runtime);
const servers: RpcServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** An echo server on plain TCP (watched), a client whose transport has `faults` (watched too), one call made. */
async function oneCall(faults: Faults): Promise<{ watch: ConnWatch; stream: ClientStream }> {
  const watch = watchConns(mutantTransport(tcp, faults));
  const server = new RpcServer({ dispatch: createRouter({ 1: (req) => req.msg }) });
  servers.push(server);
  const address = formatAddress(await server.listen(watch.transport, '127.0.0.1:0'));
  const stream = await ClientStream.connect({ transport: watch.transport, address });
  expect((await stream.call(1, new Uint8Array([7]))).msg).toEqual(new Uint8Array([7]));
  return { watch, stream };
}

describe('the connection watch', () => {
  it('finds nothing wrong with the right transport: both sides report their close once', async () => {
    const { watch, stream } = await oneCall({});
    await stream.close();
    await waitFor(() => watch.unclosed().length === 0, { what: 'both closes reported' });
    expect(watch.stuck()).toEqual([]);
  });

  it('names a connection that both sides ended and that never reported its close', async () => {
    const { watch, stream } = await oneCall({ neverReportsClose: true });
    void stream.close(); // never resolves: the close it waits for is never reported
    const stuck = await waitFor(() => watch.stuck()[0], { what: 'the stuck connection named' });
    expect(stuck).toMatch(/^1 connection\(s\) ended by this side .* never reported close\(\)/);
    expect(watch.unclosed()).toEqual([expect.stringMatching(/^a client connection .* reported close\(\) 0 times \(end\(\) called, the peer's end reported\)/)]);
    stream.destroy();
  });

  it('names a connection that reported its close twice', async () => {
    const { watch, stream } = await oneCall({ reportsCloseTwice: true });
    await stream.close();
    expect(await waitFor(() => watch.unclosed()[0], { what: 'the double close named' })).toMatch(/^a client connection .* reported close\(\) 2 times/);
  });
});

describe('the listener-leak watch', () => {
  it('hears nothing from the right transport over 50 calls', async () => {
    const leaks = watchListenerLeaks();
    try {
      const { stream } = await oneCall({});
      for (let i = 0; i < 50; i++) await stream.call(1, new Uint8Array([i]));
      await stream.close();
      expect(leaks.warnings).toEqual([]);
    } finally {
      leaks.stop();
    }
  });

  it("hears Node's warning from a transport that adds a listener per write", async () => {
    const leaks = watchListenerLeaks();
    try {
      const { stream } = await oneCall({ leaksListener: true });
      for (let i = 0; i < 50; i++) await stream.call(1, new Uint8Array([i]));
      await stream.close();
      expect(await waitFor(() => leaks.warnings[0], { what: 'the warning' })).toMatch(/11 drain listeners added to \[EventEmitter\]/);
    } finally {
      leaks.stop();
    }
  });
});
