import { ErrorCode, RpcError } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { ManualClock, waitFor, within, cleanups, deferred } from '@skein/test-utils';
import type { Transport } from '@skein/core';
import { RpcServer, createRouter, type Caller } from '../src/index.js';
import { HELLO_ACTION, writeRequestHeader } from '../src/wire/protocol.js';
import { HelloRole, encodeHello, receiveLimitsEntry } from '../src/wire/hello.js';
import { REVERSE_ANSWER_ACTION, reverseOfferEntry } from '../src/wire/reverse-calls.js';
import { rawPeer, readU32, recordingTransport, requestFrame, transport, u32 } from './harness.js';
import { errorReplies, halfOpenConn, probationServer } from './probation-harness.js';
import { golden } from './golden.js';

/*
 * Guards of a server connection that no other test pins: each found by removing it (a mutant)
 * and seeing every test still pass.
 */

const cleanup = cleanups();

const call = (c: Caller, action: string, msg: Uint8Array, timeoutMs?: number) =>
  new Promise<Uint8Array>((resolve, reject) => c.send(action, msg, { timeoutMs }, (err, reply) => (err ? reject(err) : resolve(reply!.msg))));

/** A hello offering calls both ways (a window of 2), as a raw peer sends it. */
function helloOfferingReverse(): Uint8Array {
  const offer = encodeHello(HelloRole.Offer, [receiveLimitsEntry(1 << 20, 1 << 20), reverseOfferEntry(2)]);
  const hello = new Uint8Array(32 + offer.length);
  writeRequestHeader(hello, HELLO_ACTION, 0, 0, offer.length, 0);
  hello.set(offer, 32);
  return hello;
}

/** The head of a reverse call frame (flag 0x18) as the peer reads it. */
const REVERSE_CALL_HEAD = Buffer.from('254d0118', 'hex');

/** The TCP transport, its listeners' close run through `closing` (to hold it, or to hear that it ended). */
function closingListeners(closing: (close: () => Promise<void>) => Promise<void>): Transport {
  return {
    name: transport.name,
    connect: (address, spec, opts) => transport.connect(address, spec, opts),
    listen: async (address, spec, accept) => {
      const listener = await transport.listen(address, spec, accept);
      return { address: listener.address, close: () => closing(() => listener.close()) };
    },
  };
}

describe('a server connection', () => {
  it('sent away from probation at its hello is ended by the server, not left open for the peer to end', async () => {
    // authTimeoutMs far off: only the drain sendAway starts ends the connection, never the probation's own timeout.
    const s = await probationServer(cleanup, { authTimeoutMs: 600_000 });
    const { sock, closed, read } = halfOpenConn(s.port, cleanup);
    await waitFor(() => s.server.stats().connections === 2 || undefined, { what: 'the second connection let in on probation' });
    // A hello with no credentials: it cannot become a peer.
    sock.write(golden.helloRequest);
    await waitFor(() => errorReplies(read()).size === 1 || undefined, { what: 'the hello refused' });
    expect([...errorReplies(read()).values()][0]).toMatch(/^rpc_overloaded:clients at their cap/);
    // This peer never ends its side first (it ends only once the server has): the server must end it.
    await within(closed, 10_000, 'the server ended the connection it sent away');
    await waitFor(() => s.server.stats().connections === 1 || undefined, { what: 'the connection gone from the server' });
  });

  it('agreeing calls both ways in a hello read once the server began to close refuses a reverse call at once, unsent', async () => {
    // A call of the peer's held running keeps its connection open through the drain, which
    // began at close(): the caller its later hello agrees is made on a connection told to make no reverse call.
    const release = deferred<void>();
    const started = deferred<void>();
    const server = new RpcServer({ dispatch: createRouter({ hold: async () => (started.resolve(), await release.promise, u32(1)) }) });
    const a = (await server.listen(transport, '127.0.0.1:0')) as { host: string; port: number };
    cleanup.push(() => (release.resolve(), server.close()));
    const peer = rawPeer(`${a.host}:${a.port}`, cleanup);
    peer.send(requestFrame('hold', 1));
    await started.promise;
    const closing = server.close();
    closing.catch(() => {});
    peer.send(helloOfferingReverse());
    const caller = await waitFor(() => server.openConnections()[0]?.caller, { what: 'calls both ways agreed' });
    // A timeout only so that a reverse call sent by mistake settles (its peer never answers).
    const refused = await call(caller, 'p.x', u32(1), 5_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(RpcError);
    expect(refused).toMatchObject({ code: ErrorCode.Closed });
    expect((refused as RpcError).message).toMatch(/closing: reverse call not sent/);
    release.resolve();
    await within(closing, 10_000, 'the server closed');
    expect(peer.received().includes(REVERSE_CALL_HEAD)).toBe(false);
  });

  it('closing with a reverse call out ends once that call\'s answer comes, without waiting for another tick', async () => {
    // The server's ticks driven by the test: none runs after the answer, so only the answer itself can end the connection.
    const clock = new ManualClock();
    const listenersClosed = deferred<void>();
    const told = closingListeners((close) => close().then(() => listenersClosed.resolve()));
    const server = new RpcServer({ dispatch: createRouter({}), clock, tickMs: 1000, closeWaitMs: 600_000 });
    const a = (await server.listen(told, '127.0.0.1:0')) as { host: string; port: number };
    cleanup.push(() => server.close());
    const peer = rawPeer(`${a.host}:${a.port}`, cleanup);
    peer.send(helloOfferingReverse());
    const caller = await waitFor(() => server.openConnections()[0]?.caller, { what: 'calls both ways agreed' });
    const out = call(caller, 'p.x', u32(1));
    out.catch(() => {});
    await waitFor(() => peer.received().includes(REVERSE_CALL_HEAD) || undefined, { what: 'the reverse call on the wire' });
    const closing = server.close();
    closing.catch(() => {});
    await listenersClosed.promise;
    // The drain begins in the turn the listeners' close settles: past it here.
    await new Promise((resolve) => setImmediate(resolve));
    // Quiet ticks: the drain no longer waits for the peer, only for the reverse call out.
    clock.advance(1000);
    clock.advance(1000);
    expect(server.connections).toBe(1);
    // Its answer (seq 1, flag 0: a reply, msg u32 7).
    const answer = new Uint8Array(32 + 5);
    writeRequestHeader(answer, REVERSE_ANSWER_ACTION, 0, 1, 5, 0);
    answer.set(u32(7), 33);
    peer.send(answer);
    expect(readU32(await within(out, 10_000, 'the reverse call answered'))).toBe(7);
    await within(peer.closed, 10_000, 'the server ended the connection');
    await within(closing, 10_000, 'the server closed');
  });

  it('writes no reverse call on a connection already closed (one made as its close aborts a handler)', async () => {
    const rec = recordingTransport();
    let outcome: unknown;
    let aborted = false;
    let started = false;
    const server = new RpcServer({
      dispatch: createRouter({
        // Told of the close (its signal aborts) after the connection is marked closed, before its reverse calls are failed.
        1: (req) => {
          started = true;
          req.signal.addEventListener('abort', () => {
            aborted = true;
            call(req.conn.caller!, 'p.x', u32(1)).then((r) => (outcome = r), (e: unknown) => (outcome = e));
          });
          return new Promise<never>(() => {});
        },
      }),
    });
    const a = (await server.listen(rec.transport, '127.0.0.1:0')) as { host: string; port: number };
    cleanup.push(() => server.close());
    const peer = rawPeer(`${a.host}:${a.port}`, cleanup);
    peer.send(helloOfferingReverse());
    await waitFor(() => server.openConnections()[0]?.caller, { what: 'calls both ways agreed' });
    peer.send(requestFrame(1, 1));
    await waitFor(() => started || undefined, { what: 'the handler running' });
    // A frame that breaks framing: the server closes the connection (not the peer's end, which would abort the handler while it is open).
    peer.send(new Uint8Array(32).fill(0xff));
    await within(peer.closed, 10_000, 'the connection closed');
    await waitFor(() => (aborted && outcome !== undefined) || undefined, { what: 'the reverse call made at the close settled' });
    // Settled as a connection lost (IO), and nothing of it written.
    expect(outcome).toBeInstanceOf(RpcError);
    expect(outcome).toMatchObject({ code: ErrorCode.IO });
    expect(rec.writes.some((part) => Buffer.from(part).subarray(0, 4).equals(REVERSE_CALL_HEAD))).toBe(false);
  });
});
