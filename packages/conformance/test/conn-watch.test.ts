// The kit watches both sides' connections so that a scenario that hangs says which report never
// came, and its last test fails a transport that reports a close other than once. Each check runs
// here against a real TCP transport with one fault put in, and against the right one.
import { formatAddress, type FrameConn, type FrameHandlers, type FrameSpec, type Transport } from '@skein/core';
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
    // Once the server's side closed (it reports its close): only the client's is left.
    const stuck = await waitFor(() => watch.unclosed().length === 1 && watch.stuck()[0], { what: 'the stuck connection named' });
    expect(stuck).toMatch(/^1 connection\(s\) ended by this side .* never reported close\(\)/);
    // A ClientStream gives no end handler, so the watch does not see its peer's end (the transport's default ends it).
    expect(watch.unclosed()).toEqual([expect.stringMatching(/^a client connection .* reported close\(\) 0 times \(end\(\) called\)/)]);
    stream.destroy();
  });

  it('finds no unclean close when both sides ended a connection of the right transport', async () => {
    const { watch, stream } = await oneCall({});
    await stream.close();
    await waitFor(() => watch.unclosed().length === 0, { what: 'both closes reported' });
    expect(watch.uncleanCloses()).toEqual([]);
  });

  it('names a connection both sides ended that reported its close with an error', async () => {
    const { watch, stream } = await oneCall({ reportsCleanCloseWithError: true });
    await stream.close();
    await waitFor(() => watch.unclosed().length === 0, { what: 'both closes reported' });
    expect(watch.uncleanCloses()).toEqual([expect.stringMatching(/^a server connection .* that both sides ended reported close\(Error: socket closed\): a clean close is close\(\) with no argument/)]);
  });

  it('names a connection that reported its close twice', async () => {
    const { watch, stream } = await oneCall({ reportsCloseTwice: true });
    await stream.close();
    expect(await waitFor(() => watch.unclosed()[0], { what: 'the double close named' })).toMatch(/^a client connection .* reported close\(\) 2 times/);
  });
});

describe('the byte-count watch', () => {
  it('finds nothing wrong with the right transport, which gives both counts', async () => {
    const { watch, stream } = await oneCall({});
    await stream.close();
    expect(watch.miscounted()).toEqual([]);
  });

  it('names a receivedBytes that never counted', async () => {
    const { watch, stream } = await oneCall({ receivedBytesStuck: true });
    await stream.close();
    expect(watch.miscounted()).toEqual([expect.stringMatching(/^a client connection .*: receivedBytes was 0 after \d+ bytes of whole frames were delivered/)]);
  });

  it('names a sentBytes that never counted', async () => {
    const { watch, stream } = await oneCall({ sentBytesStuck: true });
    await stream.close();
    expect(watch.miscounted()).toEqual([expect.stringMatching(/^a client connection .*: sentBytes was 0 when an answer arrived/)]);
  });
});

describe('what the transport under the watch is handed', () => {
  it('the handlers the stream layer gave: no end handler on a client connection (a ClientStream gives none), one on a server connection', async () => {
    const bound: Record<string, string> = {};
    const seeing = (side: string, c: FrameConn): FrameConn =>
      new Proxy(c, {
        get(target, prop) {
          if (prop === 'bind') return (h: FrameHandlers) => ((bound[side] = typeof h.end), target.bind(h));
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    const recording: Transport = {
      name: 'recording',
      connect: async (address, spec, options) => seeing('client', await tcp.connect(address, spec, options)),
      listen: (address, spec, accept) => tcp.listen(address, spec, (conn) => accept(seeing('server', conn))),
    };
    const watch = watchConns(recording);
    const server = new RpcServer({ dispatch: createRouter({ 1: (req) => req.msg }) });
    servers.push(server);
    const address = formatAddress(await server.listen(watch.transport, '127.0.0.1:0'));
    const stream = await ClientStream.connect({ transport: watch.transport, address });
    await stream.call(1, new Uint8Array([1]));
    // The server ends first: the client's transport ends its side by its own default, and both closes are reported.
    await server.close();
    await stream.closed();
    await waitFor(() => watch.unclosed().length === 0, { what: 'both closes reported' });
    expect(bound).toEqual({ client: 'undefined', server: 'function' });
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

/**
 * A FrameConn as a class whose state is in #private fields, read by its methods and getters: a
 * Proxy whose methods or getters ran with the Proxy as `this` would throw TypeError at the first
 * #private read ("Cannot read private member"), so the watch must call them on the connection.
 */
class PrivateFieldsConn implements FrameConn {
  readonly #inner: FrameConn;
  #writes = 0;
  #label = '';
  constructor(inner: FrameConn) {
    this.#inner = inner;
  }
  get remote(): string {
    return this.#inner.remote;
  }
  get congested(): boolean {
    return this.#inner.congested;
  }
  get midFrame(): boolean {
    return this.#inner.midFrame === true;
  }
  get identityPending(): boolean {
    return this.#inner.identityPending === true;
  }
  /** Set by the transport's own code (never by the stream layer), read through the watch. */
  get label(): string {
    return this.#label;
  }
  set label(v: string) {
    this.#label = v;
  }
  get writes(): number {
    return this.#writes;
  }
  bind(handlers: FrameHandlers): void {
    this.#inner.bind(handlers);
  }
  write(part: Uint8Array): void {
    this.#writes++;
    this.#inner.write(part);
  }
  flush(): void {
    this.#inner.flush();
  }
  setFrameSpec(spec: FrameSpec): void {
    this.#inner.setFrameSpec?.(spec);
  }
  pause(): void {
    this.#inner.pause();
  }
  resume(): void {
    this.#inner.resume();
  }
  end(): void {
    this.#inner.end();
  }
  close(): void {
    this.#inner.close();
  }
}

describe('the connection watch around a class-based FrameConn with #private fields', () => {
  it('calls its methods and getters on the connection itself: calls, a congested write, both closes reported once', async () => {
    const made: PrivateFieldsConn[] = [];
    const keep = (c: FrameConn): PrivateFieldsConn => {
      const p = new PrivateFieldsConn(c);
      p.label = `conn ${made.length}`;
      made.push(p);
      return p;
    };
    const inner: Transport = {
      name: 'private-fields',
      connect: async (address, spec, options) => keep(await tcp.connect(address, spec, options)),
      listen: (address, spec, accept) => tcp.listen(address, spec, (conn) => accept(keep(conn))),
    };
    const watch = watchConns(inner);
    const server = new RpcServer({ dispatch: createRouter({ 1: (req) => ({ msg: req.msg, blob: req.blob }) }) });
    servers.push(server);
    const address = formatAddress(await server.listen(watch.transport, '127.0.0.1:0'));
    const stream = await ClientStream.connect({ transport: watch.transport, address });
    // 4 MiB written in one run: past the send buffer's mark, so `congested` is read true and `drain()` follows.
    const big = new Uint8Array(4 << 20).fill(9);
    const [large, small] = await Promise.all([stream.call(1, big), stream.call(1, new Uint8Array([1]), { blob: new Uint8Array([2, 3]) })]);
    expect(large.msg.length).toBe(big.length);
    expect([...small.msg, ...small.blob]).toEqual([1, 2, 3]);
    await stream.close();
    await waitFor(() => watch.unclosed().length === 0 && made.length === 2, { what: 'both closes reported' });
    expect(watch.stuck()).toEqual([]);
    expect(made.map((c) => c.label)).toEqual(['conn 0', 'conn 1']);
    expect(made.every((c) => c.writes > 0)).toBe(true);
  });
});
