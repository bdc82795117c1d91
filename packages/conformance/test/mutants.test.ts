// The scenarios that check what a transport does under load and in reverse must fail a transport
// that gets it wrong: each runs here against a real TCP transport with one fault put in.
import { formatAddress, silentLogger, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import { conformanceDispatch } from '../src/dispatch.mjs';
import { expected } from '../src/expected.js';
import { BULK_CALLS } from '../src/contract.mjs';
import { PAUSED_READ_BYTES, SCENARIOS } from '../src/scenarios.mjs';
import { expectScenario } from '../src/scenario-verdict.js';
import { mutantTransport, type Faults } from './mutant-transports.js';

const tcp = tcpTransport(runtime);
const servers: RpcServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The conformance server on `serverFaults`, and a client transport with `clientFaults`. */
async function target(serverFaults: Faults, clientFaults: Faults = {}): Promise<{ transport: Transport; address: string }> {
  const server: RpcServer = new RpcServer({
    dispatch: conformanceDispatch({
      info: { runtime: runtime.name, transport: tcp.name },
      gateEntered: () => {},
      gateReleased: new Promise(() => {}),
      logger: silentLogger,
      paused: (): number => server.stats().paused,
    }),
    logger: silentLogger,
  });
  servers.push(server);
  const address = formatAddress(await server.listen(mutantTransport(tcp, serverFaults), '127.0.0.1:0'));
  return { transport: mutantTransport(tcp, clientFaults), address };
}

const right = { runtime: runtime.name, transport: tcp.name };

describe('backpressure fails a transport that does not hold back', () => {
  it('passes the right one', async () => {
    expectScenario('backpressure', await SCENARIOS.backpressure(await target({})), expected('backpressure', right, runtime.name));
  });

  it('fails one whose server never reports congested: it answers everything while nobody reads', async () => {
    const seen = await SCENARIOS.backpressure(await target({ blindToCongestion: true }));
    expect(seen).toMatchObject({ paused: false, bounded: false });
    // The suite's verdict says which member to fix, not only that `paused` is false.
    expect(() => expectScenario('backpressure', seen, expected('backpressure', right, runtime.name))).toThrow(
      /the server never saw its connection congested: `congested` must count the parts written in this run and not yet flushed/,
    );
  });

  it('names the paused side too when the server answered everything: a pause() that stops delivery but not reading', () => {
    // The facts as such a transport reports them (whether the server saw congestion a moment
    // depends on socket buffers); the verdict must name the client's pause, not only `congested`.
    const want = expected('backpressure', right, runtime.name);
    expect(() => expectScenario('backpressure', { ...(want as object), paused: true, bounded: false, receivedWhilePaused: null }, want)).toThrow(
      /bounded: false: .*the paused connection read on what kept arriving \(held, not delivered\): where the transport can stop reading, pause\(\) must/,
    );
  });

  // Decided by counts: the paused side's receivedBytes past its bound, or the server's answers
  // all given, whichever comes first; never by how long the kit waited (run them many times).
  it('fails one whose pause() holds what arrives but reads on: its receivedBytes grow past the bound', async () => {
    const seen = await SCENARIOS.backpressure(await target({}, { pauseReadsOn: true }));
    expect(seen).toMatchObject({ bounded: false, deliveredWhilePaused: 0, answers: BULK_CALLS, inOrder: true, intact: true });
    expect(seen.receivedWhilePaused).toBeGreaterThan(PAUSED_READ_BYTES);
    expect(() => expectScenario('backpressure', seen, expected('backpressure', right, runtime.name))).toThrow(
      /receivedWhilePaused: \d+: the paused connection received more than 8388608 bytes after pause\(\) \(its receivedBytes grew\): it read on/,
    );
  });

  it('fails one whose pause() reads on and counts nothing: the server answers every call while the reader is paused', async () => {
    const seen = await SCENARIOS.backpressure(await target({}, { pauseReadsOn: true, clientCountsNothing: true }));
    expect(seen).toMatchObject({ bounded: false, receivedWhilePaused: null, deliveredWhilePaused: 0, answers: BULK_CALLS, serverAnswered: BULK_CALLS });
    expect(() => expectScenario('backpressure', seen, expected('backpressure', right, runtime.name))).toThrow(
      /bounded: false: the server answered every call while the reader was paused: .*pause\(\) must/,
    );
  });

  it('fails one whose pause() does not stop reading: the server never stays held', async () => {
    const seen = await SCENARIOS.backpressure(await target({}, { ignoresPause: true }));
    expect(seen.deliveredWhilePaused).toBeGreaterThan(0);
    expect(() => expectScenario('backpressure', seen, expected('backpressure', right, runtime.name))).toThrow(
      /pause\(\) must stop frame delivery at once/,
    );
  });
});

describe('remote fails a transport that loses calls from the server', () => {
  it('passes the right one', async () => {
    expect(await SCENARIOS.remote(await target({}))).toEqual(expected('remote', right, runtime.name));
  });

  it('fails one whose writer drops reverse calls', async () => {
    const seen = await SCENARIOS.remote(await target({ dropsReverseCalls: true }));
    expect(seen).toMatchObject({ served: { caller: true, upper: 0, reversed: false, refused: { code: 'Timeout' } }, ran: 0 });
  });
});

describe('congestedWrites fails a transport that loses or reuses what a congested connection carries', () => {
  it('passes the right one', async () => {
    expect(await SCENARIOS.congestedWrites(await target({}))).toEqual(expected('congestedWrites', right, runtime.name));
  });

  it('fails one that drops the parts written while congested', async () => {
    const seen = await SCENARIOS.congestedWrites(await target({}, { dropsWritesWhenCongested: true }));
    expect(seen.intact).toBeLessThan(64);
    expect(seen.wrong[0]).toMatch(/^call \d+/);
    expect(() => expectScenario('congestedWrites', seen, expected('congestedWrites', right, runtime.name))).toThrow(/must be queued in order and sent whole/);
  });

  it('fails one that hands frames on from a buffer it then writes over', async () => {
    const seen = await SCENARIOS.congestedWrites(await target({}, { reusesReceiveBuffer: true }));
    expect(seen.intact).toBeLessThan(64);
    expect(seen.wrong[0]).toMatch(/other bytes than .* written over/);
  });
});
