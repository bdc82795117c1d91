import { createClient } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, formatAddress, parseAddress, silentLogger, type Address, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { ClientStream, RpcServer } from '@skein/stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Action, Calculator, conformanceAuthenticate } from './contract.mjs';
import { conformanceDispatch } from './dispatch.mjs';
import { abruptCloseProblems } from './abrupt-close.js';
import { badAddressProblems } from './bad-addresses.js';
import { bounded } from './bounded.js';
import { claimedBodyProblems } from './claimed-bodies.js';
import { connectSignalProblems } from './connect-signal.js';
import { connectTimeoutProblems } from './connect-timeout.js';
import { watchConns } from './conn-watch.js';
import { expected, type ScenarioName } from './expected.js';
import type { OwnScheme } from './other-transport-addresses.js';
import { maxFrameProblems, peerMaxFrameProblems } from './frame-bounds.js';
import { halfCloseProblems } from './half-close.js';
import { watchListenerLeaks } from './listener-leaks.js';
import { watchListenerCloses } from './listener-watch.js';
import { listenersClosed } from './listeners-closed.js';
import { refusedAtClose } from './refused-at-close.js';
import { rejectedHeaderProblems } from './rejected-headers.js';
import { SCENARIOS } from './scenarios.mjs';
import { expectScenario } from './scenario-verdict.js';
import { watchSpecCalls } from './spec-calls.js';

/** A transport to check, and where its server listens. */
export interface TransportUnderTest {
  /** Serves and calls; its `name` is what the `calls` scenario expects the server to report. */
  readonly transport: Transport;
  /** Where the suite's server listens: an address the transport understands (`127.0.0.1:0`). */
  readonly listenAddress: string | Address;
  /** The scenarios to run; default all of them. */
  readonly scenarios?: readonly ScenarioName[] | undefined;
  /**
   * Scenarios left out, each a limit the transport documents: a transport with no
   * back-pressure (a MessagePort's `congested` is always false) leaves out `backpressure`,
   * which it fails.
   */
  readonly except?: readonly ScenarioName[] | undefined;
  /**
   * The address scheme that names this transport (core's AddressScheme): `'tcp'` for one over
   * TCP, `'ws'` for a WebSocket one, `'none'` for one neither names (in-process, MessagePorts, a
   * protocol of its own), which must refuse both. Given, every address written for another
   * transport must be refused with InvalidArgument; left out, the kit cannot tell which is this
   * transport's own and asks only that one of `tcp://` and `ws://` be refused.
   */
  readonly scheme?: OwnScheme | undefined;
}

/** Generous bounds, only so that a bug fails a test instead of hanging the run. */
const HANG_MS = 20_000;
/**
 * Each test's own timeout, longer than the longest bound inside a scenario (the slow reader's
 * 30 s congestion call): the kit runs in the user's vitest project, whose default is 5 s, and a
 * timeout there would hide the words a scenario fails with.
 */
const TEST_MS = HANG_MS * 2;
/** A scenario's own bound, inside the test's: a hang fails with what the kit saw of the connections. */
const SCENARIO_MS = TEST_MS - 5_000;
/**
 * The server's `closeWaitMs`: past the kit's own bound on its listeners' close (HANG_MS). A
 * listener whose close waits for its connections (Node's `server.close(cb)`) is then named by the
 * kit, before the server gives up on it and cuts the connections, which lets that close resolve
 * and leaves only calls cut short to see.
 */
const SERVER_CLOSE_WAIT_MS = HANG_MS + 10_000;
/** How long the last test waits for every connection to have reported its close. */
const CLOSES_MS = 5_000;

/** Why a scenario did not finish, in the words of what its connections did and did not report. */
const hung = (what: string, stuck: string[]): string =>
  `${what} did not finish within ${SCENARIO_MS} ms: ` +
  (stuck.length > 0 ? stuck.join('; ') : 'no connection shows why (a call or answer the transport lost?); run it alone with `scenarios: [name]`');

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/**
 * The conformance suite for one transport, as vitest tests: a server on this transport in the
 * test process, and Skein's clients calling it over the same transport. Every scenario of the
 * cross-runtime suite (typed calls, built-in and custom errors, 0 B to 8 MiB blobs, 2000
 * concurrent calls, a per-call timeout, streams, cancels, deadlines, calls from the server back
 * over the connection, calls written while congested, a slow reader), then that a header the
 * server's spec rejects (over its size limit, a wrong version) is answered and its connection
 * closed, that a header within the limits whose body never comes holds no memory for it, that
 * `end()` right after a call half-closes (the answer still comes), that one side's `close()`
 * reaches the other, whose connection reports its close (both ways), that a transport declaring
 * `maxFrameBytes` carries a frame of exactly that size (up to 64 MiB + 64 KiB) and its listener
 * declares its connections' value, that one implementing `setPeerMaxFrameBytes` loses nothing
 * when told its peer's bound and written past it in small frames in one run, that a connect gives up with
 * Cancelled when its signal aborts (before or while connecting), with Unreachable at its
 * `timeoutMs` when nobody answers its handshake (closing its socket), and with InvalidArgument
 * on a malformed address or one written for another transport, then a graceful
 * close with calls in flight; last, that every connection reported its close exactly once (clean
 * where both sides ended it), that its byte counts (`receivedBytes`, `sentBytes`, where given)
 * were right, that every spec's `bodyLength` was called as its method (never detached), and that
 * no listener piled up. Both sides' connections are watched, so a scenario
 * that hangs says which report (a close, a drain) never came. Call it at the top level of a test
 * file.
 */
export function transportConformance(t: TransportUnderTest): void {
  const names = (t.scenarios ?? (Object.keys(SCENARIOS) as ScenarioName[])).filter((n) => !t.except?.includes(n));
  describe(`${t.transport.name} transport: Skein conformance`, () => {
    const gate = gateControl();
    const server: RpcServer = new RpcServer({
      dispatch: conformanceDispatch({
        info: { runtime: runtime.name, transport: t.transport.name },
        gateEntered: gate.entered,
        gateReleased: gate.released,
        logger: silentLogger,
        paused: (): number => server.stats().paused,
      }),
      authenticate: conformanceAuthenticate,
      requireAuth: false,
      closeWaitMs: SERVER_CLOSE_WAIT_MS,
    });
    // Every spec the transport is handed checks it is called as its method (FrameSpec.bodyLength).
    const specs = watchSpecCalls(t.transport);
    // Both sides' connections watched: a scenario that hangs says which report never came.
    const conns = watchConns(specs.transport);
    const transport = conns.transport;
    // The server's side watched: a listener whose close hangs is named when the close test fails.
    const served = watchListenerCloses(transport);
    let address = '';
    const leaks = watchListenerLeaks();
    beforeAll(async () => {
      address = formatAddress(await server.listen(served.transport, t.listenAddress));
    }, HANG_MS);
    afterAll(async () => {
      leaks.stop();
      await server.close();
    }, TEST_MS);

    for (const name of names) {
      it(name, async () => {
        const seen = await bounded(SCENARIOS[name]({ transport, address }), SCENARIO_MS, () => hung(`the ${name} scenario`, conns.stuck()));
        expectScenario(name, seen, expected(name, { runtime: runtime.name, transport: t.transport.name }, runtime.name));
      }, TEST_MS);
    }

    it('refuses a header its server spec rejects: the reply, then the close of that connection', async () => {
      const problems = await bounded(rejectedHeaderProblems(transport, parseAddress(address), HANG_MS), SCENARIO_MS, () => hung('sending rejected headers', conns.stuck()));
      expect(problems, 'headers the server frame spec rejects (FrameSpec.bodyLength throws) not refused').toEqual([]);
    }, TEST_MS);

    it('holds no memory for a body only claimed: a header within the limits and 1 KiB of its body reserve nothing', async () => {
      const problems = await bounded(claimedBodyProblems(transport, parseAddress(address), HANG_MS, conns.acceptsFrom), SCENARIO_MS, () => hung('claiming bodies', conns.stuck()));
      expect(problems, 'memory held for bytes a peer claimed and never sent').toEqual([]);
    }, TEST_MS);

    it('half-closes at end(): what was written goes first, the answer still comes, then a clean close', async () => {
      const problems = await bounded(halfCloseProblems(transport, parseAddress(address), HANG_MS), SCENARIO_MS, () => hung('the half-close', conns.stuck()));
      expect(problems, 'FrameConn.end() not a half-close').toEqual([]);
    }, TEST_MS);

    // Each side in turn calls close(); half the hang bound per wait, so that both directions of a
    // close that never reaches the peer are named within the scenario's bound.
    it("reports an abrupt close at the peer: after one side's close(), the other side's connection reports its close, both ways", async () => {
      const problems = await bounded(abruptCloseProblems(transport, parseAddress(address), HANG_MS / 2), SCENARIO_MS, () => hung('the abrupt close', conns.stuck()));
      expect(problems, "FrameConn.close() that never reaches the peer's connection").toEqual([]);
    }, TEST_MS);

    // On a listener of the check's own (its own framing, so a frame of the transport's whole bound
    // is not a call the suite's server limits refuse); skipped where nothing is declared.
    it('carries a frame of exactly maxFrameBytes, where declared: the listener declares its connections\' value', async () => {
      const problems = await bounded(maxFrameProblems(transport, parseAddress(address), HANG_MS), SCENARIO_MS, () => hung('the maxFrameBytes check', conns.stuck()));
      expect(problems, 'FrameConn/FrameListener.maxFrameBytes not the largest whole frame carried').toEqual([]);
    }, TEST_MS);

    it('keeps what it sends within setPeerMaxFrameBytes, where implemented: many small frames in one run all arrive', async () => {
      const problems = await bounded(peerMaxFrameProblems(transport, parseAddress(address), HANG_MS), SCENARIO_MS, () => hung('the setPeerMaxFrameBytes check', conns.stuck()));
      expect(problems, 'FrameConn.setPeerMaxFrameBytes not honoured: a unit over the peer\'s bound').toEqual([]);
    }, TEST_MS);

    // On the transport itself, unwatched (the watch's wrapper would make a connect that is up at
    // once look under way): a ClientStream closes a connection that comes up after its abort,
    // which would hide a transport that ignores the signal (until a connect hangs).
    it('connect honours its signal: aborted before or while connecting, it rejects with Cancelled', async () => {
      const problems = await bounded(connectSignalProblems(t.transport, parseAddress(address), HANG_MS), SCENARIO_MS, () => hung('connecting with an aborted signal', conns.stuck()));
      expect(problems, 'TransportConnectOptions.signal not honoured').toEqual([]);
    }, TEST_MS);

    // On the transport itself, as connect-signal: no server of the suite's is involved.
    it('connect gives up at its timeoutMs a handshake nobody answers, with Unreachable, and closes its socket', async () => {
      const problems = await bounded(connectTimeoutProblems(t.transport, parseAddress(address)), SCENARIO_MS, () => hung('connecting to a silent peer', conns.stuck()));
      expect(problems, 'TransportConnectOptions.timeoutMs not honoured, or the socket left open').toEqual([]);
    }, TEST_MS);

    it("refuses a malformed address with InvalidArgument: an empty host, a port out of range, an unknown scheme, another transport's", async () => {
      const problems = await bounded(badAddressProblems(t.transport, parseAddress(address), HANG_MS, t.scheme), SCENARIO_MS, () => hung('connecting to malformed addresses', conns.stuck()));
      expect(problems, 'a malformed address, or one written for another transport, not refused with RpcError(InvalidArgument)').toEqual([]);
    }, TEST_MS);

    it('closes gracefully: calls in flight are answered, new ones refused with Closed, then Unreachable', () =>
      bounded(closesGracefully(), SCENARIO_MS, () => hung('the graceful close', conns.stuck())), TEST_MS);

    // Last: every connection any test made, on either side, reported its close, once.
    it('every connection reports its close exactly once', async () => {
      const giveUpAt = Date.now() + CLOSES_MS;
      while (conns.unclosed().length > 0 && Date.now() < giveUpAt) await new Promise((r) => setTimeout(r, 20));
      expect(conns.unclosed(), 'connections whose close was reported other than once (FrameHandlers.close: exactly once, also after both sides ended)').toEqual([]);
    }, TEST_MS);

    it('reports a close both sides ended as clean: close() with no error', () => {
      expect(conns.uncleanCloses(), 'connections that ended cleanly on both sides (end(), then the peer\'s end) and reported close(err) (FrameHandlers.close: an error only when the connection ended badly)').toEqual([]);
    }, TEST_MS);

    it('counts bytes right, where it counts them: receivedBytes and sentBytes', () => {
      expect(conns.miscounted(), 'connections whose optional byte counts were wrong as frames arrived (leave a count undefined where the transport cannot tell)').toEqual([]);
    }, TEST_MS);

    it("calls FrameSpec.bodyLength as the spec's method, never detached: a copy of the spec ({ ...spec }) is fine", () => {
      expect(specs.detached(), 'frame specs whose bodyLength the transport called detached, or on an object that is not the spec nor a copy of it').toEqual([]);
    }, TEST_MS);

    it('adds no listener per call: no MaxListenersExceededWarning', () => {
      expect(leaks.warnings, 'listeners that piled up on one emitter while the suite ran (remove a listener once its write, call or frame is done)').toEqual([]);
    }, TEST_MS);

    async function closesGracefully(): Promise<void> {
      const stream = await ClientStream.connect({ transport, address });
      const calc = createClient(Calculator, stream, { codec: msgpackCodec });
      try {
        const gates = Promise.all([1, 2, 3].map(() => stream.call(Action.gate).then((r) => text(r.msg), (e: Error) => e.message)));
        await gate.waitFor(3);
        const closed = server.close();
        // From close() on, a new call is refused: never run, safe to retry elsewhere.
        await expect(refusedAtClose(stream)).resolves.toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
        // The listeners close while the gate calls still hold their connection open: a listener
        // whose close waits for its connections is named here, not only as a close that hangs.
        await listenersClosed(served.closing, HANG_MS);
        gate.release();
        expect(await gates).toEqual(['gate-done', 'gate-done', 'gate-done']);
        await closed;
        await stream.closed();
        await expect(calc.add({ a: 1, b: 2 })).rejects.toMatchObject({ code: ErrorCode.Closed });
        await expect(
          ClientStream.connect({ transport, address, connectTimeoutMs: 5000 }),
          `a connect to ${address}, where nothing listens any more, must reject with RpcError(Unreachable) (code ${ErrorCode.Unreachable}: core's connectFailed(remote, why, cause)), not with the socket's own error nor another code`,
        ).rejects.toMatchObject({ code: ErrorCode.Unreachable });
      } finally {
        stream.destroy();
      }
    }
  });
}

/** The `Action.gate` calls: counted as they start, answered together on `release`. */
function gateControl() {
  let count = 0;
  let wake = (): void => {};
  let release = (): void => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    released,
    release: () => release(),
    entered: (): void => {
      count++;
      wake();
    },
    /** Resolves once `n` gate calls have started on the server. */
    waitFor: (n: number): Promise<void> =>
      new Promise<void>((resolve) => {
        wake = () => count >= n && resolve();
        wake();
      }),
  };
}
