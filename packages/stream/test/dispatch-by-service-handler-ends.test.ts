import { rawConnect, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createRouter, dispatchByService, type Dispatch, type ServerRequest } from '../src/index.js';
import { Concurrency, abandonedCall, answeredOf, requestFrame as request, startServer } from './harness.js';
import { golden } from './golden.js';

// dispatchByService over a dispatch that tells when its handlers end (a router: health on the
// loop) and one that does not (as a worker pool): the bound on abandoned handlers holds per
// request. Those of the telling one count, at most twice maxInFlightPerConn running on a
// connection, as abandoned-handlers-cap.test.ts asserts for a telling dispatch alone; those of
// the other do not, for nobody would ever say they ended. On a real server, over TCP.

const cleanup = cleanups();

const CAP = 8;
const CALLS = 200;

/** Service `name` (`A`) on a router whose `slow` ignores its signal and runs until let go (`endAll`); `echo` answers at once. */
function telling(name = 'A') {
  const running = new Concurrency();
  const ends: (() => void)[] = [];
  let echoed = 0;
  const router = createRouter({
    [`${name}.slow`]: () => (running.enter(), new Promise<void>((resolve) => ends.push(() => (running.leave(), resolve())))),
    [`${name}.echo`]: () => void echoed++,
  });
  return { router, running, echoed: () => echoed, endAll: () => ends.splice(0).forEach((end) => end()) };
}

/**
 * The rest, on a dispatch that does not tell handler ends, as a worker pool: it holds each call
 * and answers nothing for one abandoned meanwhile (a pool skips a queued call nobody waits for),
 * so no late answer and no `handlerEnded` ever comes for it.
 */
function untold() {
  const held: ServerRequest[] = [];
  const d: Dispatch = { dispatch: (req) => void held.push(req) };
  return { d, held };
}

/** A raw peer past its hello, on a server of `dispatch` with a cap of CAP. */
async function peerOf(dispatch: Dispatch) {
  const s = await startServer({}, { dispatch, maxInFlightPerConn: CAP, closeWaitMs: 0 });
  cleanup.push(() => s.server.close());
  const peer = await rawConnect(s.address);
  cleanup.push(() => peer.destroy());
  peer.write(golden.helloRequestFull);
  return peer;
}


/**
 * CALLS cancelled calls to `slow` of a telling service and as many to `hold` of the untold rest,
 * one after the other on `peer`: the telling one's handlers stay at most twice the cap, and as
 * they end, all the rest is read (every slow call runs, every held one reaches its dispatch).
 */
async function mixed(
  peer: { write(b: Uint8Array): void },
  to: { slow: string; telling: ReturnType<typeof telling> },
  other: { hold: string; rest: ReturnType<typeof untold> },
): Promise<void> {
  const t = to.telling;
  for (let seq = 1; seq <= 2 * CALLS; seq++) abandonedCall(peer, seq % 2 === 0 ? to.slow : other.hold, seq);
  await waitFor(() => t.running.total >= 2 * CAP, { what: 'handlers started' });
  await new Promise((r) => setTimeout(r, 300));
  expect(t.running.max).toBeLessThanOrEqual(2 * CAP);
  // As its handlers end, all the rest is read: its every call runs, the rest's every call reaches its dispatch.
  await waitFor(() => (t.endAll(), t.running.total === CALLS && other.rest.held.length === CALLS), { what: 'every call read', timeoutMs: 20_000 });
  t.endAll();
  expect(t.running.max).toBeLessThanOrEqual(2 * CAP);
}

describe('dispatchByService: abandoned handlers bounded per request', () => {
  for (const how of ['cancelled', 'past a 1 ms deadline'] as const) {
    it(`a peer whose every call to the telling service is ${how} runs at most twice maxInFlightPerConn of its handlers, beside a dispatch that does not tell`, async () => {
      const a = telling();
      const rest = untold();
      const peer = await peerOf(dispatchByService({ services: { A: a.router }, otherwise: rest.d }));
      for (let seq = 1; seq <= CALLS; seq++) abandonedCall(peer, 'A.slow', seq, how === 'cancelled' ? undefined : 1);
      await waitFor(() => a.running.total >= 2 * CAP, { what: 'handlers started' });
      // Whatever the server reads of those frames it reads within a few ticks; the handlers it starts stay.
      await new Promise((r) => setTimeout(r, 300));
      expect(a.running.max).toBeLessThanOrEqual(2 * CAP);
      // Not wedged: as the abandoned handlers end, the calls behind them are read, every one: run
      // (a cancelled call has no deadline to pass while it waits for a slot), or answered Timeout
      // unrun when its deadline passed while it was held past the cap (docs/protocol.md, "Call head").
      const over = how === 'cancelled' ? () => a.running.total === CALLS : () => answeredOf(peer, CALLS) === CALLS;
      await waitFor(() => (a.endAll(), over()), { what: 'every call run or answered', timeoutMs: 20_000 });
      a.endAll();
      expect(a.running.max).toBeLessThanOrEqual(2 * CAP);
    });
  }

  it('calls abandoned to the dispatch that does not tell are not counted: never answered there, they do not stall the connection', async () => {
    const a = telling();
    const rest = untold();
    const peer = await peerOf(dispatchByService({ services: { A: a.router }, otherwise: rest.d }));
    // Far more than twice the cap, each abandoned while held, none ever told ended.
    for (let seq = 1; seq <= CALLS; seq++) abandonedCall(peer, 'B.hold', seq);
    peer.write(request('A.echo', CALLS + 1));
    await waitFor(() => a.echoed() === 1, { what: 'the call behind them read and run' });
    expect(rest.held.length).toBe(CALLS);
    expect(rest.held.every((r) => r.isAnswered)).toBe(true);
  });

  it('nested: the inner dispatchByService answers for the dispatch it handed the request to, so its telling service stays bounded and its other side never holds a place', async () => {
    const a = telling();
    const b = telling('B');
    const rest = untold();
    // The inner one's flag is false (its `otherwise` does not tell): only its per-request answer bounds B.
    const inner = dispatchByService({ services: { B: b.router }, otherwise: rest.d });
    const peer = await peerOf(dispatchByService({ services: { A: a.router }, otherwise: inner }));
    await mixed(peer, { slow: 'B.slow', telling: b }, { hold: 'C.hold', rest });
    peer.write(request('A.echo', 2 * CALLS + 1));
    await waitFor(() => a.echoed() === 1, { what: 'a call after them run' });
  });

  it('mixed on one connection: the telling service stays bounded, the other side never holds a place, and every call runs', async () => {
    const a = telling();
    const rest = untold();
    const peer = await peerOf(dispatchByService({ services: { A: a.router }, otherwise: rest.d }));
    await mixed(peer, { slow: 'A.slow', telling: a }, { hold: 'B.hold', rest });
    peer.write(request('A.echo', 2 * CALLS + 1));
    await waitFor(() => a.echoed() === 1, { what: 'a call after them run' });
  });
});
