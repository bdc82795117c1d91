import { rawConnect, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { encodeCallHead } from '../src/wire/call-head.js';
import { HEAD_ACTION, OPEN_ACTION } from '../src/wire/extension-frames.js';
import { Concurrency, abandonedCall, answeredOf, startServer, requestFrame as request } from './harness.js';
import { golden } from './golden.js';

const cleanup = cleanups();

const CAP = 8;
const CALLS = 400;

/**
 * A cancel or a passed deadline frees a call's slot at once, though its handler may run on
 * (docs/protocol.md, "Cancel"). A stranger that cancels every call it makes, or gives each a
 * deadline of 1 ms, must not thereby run any number of handlers at once: maxInFlightPerConn
 * bounds the calls answered, and as many again may run on abandoned before the connection is
 * read no further.
 */
describe('handlers still running after their calls were abandoned', () => {
  for (const how of ['cancelled', 'past a 1 ms deadline'] as const) {
    it(`a peer whose every call is ${how} runs at most twice maxInFlightPerConn handlers at once, and the rest once they end`, async () => {
      const running = new Concurrency();
      const ends: (() => void)[] = [];
      // Ignores its signal, as a handler blocked in a database call would, and ends when let go.
      const slow = () => (running.enter(), new Promise<void>((resolve) => ends.push(() => (running.leave(), resolve()))));
      const s = await startServer({ 1: slow }, { maxInFlightPerConn: CAP, closeWaitMs: 0 });
      cleanup.push(() => s.server.close());
      const peer = await rawConnect(s.address);
      cleanup.push(() => peer.destroy());
      peer.write(golden.helloRequestFull);
      for (let seq = 1; seq <= CALLS; seq++) abandonedCall(peer, 1, seq, how === 'cancelled' ? undefined : 1);
      // Whatever the server reads of that, it reads within a few ticks; the handlers it starts stay.
      await waitFor(() => running.total >= 2 * CAP, { what: 'handlers started' });
      await new Promise((r) => setTimeout(r, 300));
      expect(running.max).toBeLessThanOrEqual(2 * CAP);
      // Not wedged: as the abandoned handlers end, the calls behind them are read, every one: run
      // (a cancelled call has no deadline to pass while it waits for a slot), or answered Timeout
      // unrun when its deadline passed while it was held past the cap (docs/protocol.md, "Call head").
      const over = how === 'cancelled' ? () => running.total === CALLS : () => answeredOf(peer, CALLS) === CALLS;
      await waitFor(() => (ends.splice(0).forEach((end) => end()), over()), { what: 'every call run or answered', timeoutMs: 20_000 });
      ends.splice(0).forEach((end) => end());
      expect(running.max).toBeLessThanOrEqual(2 * CAP);
    });
  }
});

/**
 * A call whose head says its deadline passed already (remaining 0: a client that sends a call
 * after its time ran out, as one whose event loop stalled does) is answered Timeout unrun: no
 * handler runs for it, so nothing may count against the connection's handlers once answered.
 */
describe('calls past their deadline on arrival', () => {
  it('run no handler and leave the connection reading: a call after twice maxInFlightPerConn of them runs', async () => {
    let ran = 0;
    const s = await startServer({ 1: () => void ran++ }, { maxInFlightPerConn: CAP, closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    peer.write(golden.helloRequestFull);
    const expired = encodeCallHead(0, undefined);
    for (let seq = 1; seq <= 2 * CAP; seq++) {
      peer.write(request(HEAD_ACTION, seq, expired));
      peer.write(request(1, seq));
    }
    peer.write(request(1, 1000));
    await waitFor(() => ran === 1, { what: 'the call after the expired ones run', timeoutMs: 3000 });
    expect(ran).toBe(1);
  });
});

/**
 * Open streams have a cap of their own (maxInFlightPerConn) and are not in the calls' count: their
 * handlers run all the same, and count among the twice maxInFlightPerConn, or a peer that keeps
 * its streams open and abandons every call runs three times as many.
 */
describe('open streams and abandoned calls together', () => {
  it('run at most twice maxInFlightPerConn handlers at once, and the calls behind them once they end', async () => {
    const running = new Concurrency();
    const ends: (() => void)[] = [];
    const slow = () => (running.enter(), new Promise<void>((resolve) => ends.push(() => (running.leave(), resolve()))));
    // A stream's handler that runs until its client ends it (this one never does).
    const feed = () => (running.enter(), new Promise<void>(() => {}));
    const s = await startServer({ 1: slow, 2: feed }, { maxInFlightPerConn: CAP, closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    peer.write(golden.helloRequestFull);
    const head = encodeCallHead(undefined, undefined);
    for (let seq = 1; seq <= CAP; seq++) {
      peer.write(request(OPEN_ACTION, seq, head));
      peer.write(request(2, seq));
    }
    await waitFor(() => running.total === CAP, { what: 'the streams open' });
    const calls = 100;
    for (let seq = 1000; seq < 1000 + calls; seq++) abandonedCall(peer, 1, seq);
    await waitFor(() => running.total >= 2 * CAP, { what: 'handlers started' });
    await new Promise((r) => setTimeout(r, 300));
    expect(running.max).toBeLessThanOrEqual(2 * CAP);
    await waitFor(() => (ends.splice(0).forEach((end) => end()), running.total === CAP + calls), { what: 'every call run', timeoutMs: 20_000 });
    expect(running.max).toBeLessThanOrEqual(2 * CAP);
  });
});
