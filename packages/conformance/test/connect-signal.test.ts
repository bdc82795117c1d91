// The kit's connect-signal check (src/connect-signal.ts), on the transport itself: it passes
// this repository's TCP and ws transports, and names both ways a connect that never sees its
// signal breaks the contract (TransportConnectOptions.signal).
import { connectAborted, formatAddress, type FrameConn, type Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { connectSignalProblems } from '../src/connect-signal.js';
import { checkServers, passesRightTransports } from './check-servers.js';
import { mutantTransport } from './mutant-transports.js';

const CONNECT_MS = 20_000;
const serve = checkServers();

/** The problems the check finds with `client`, dialling an echo server on `server`. */
const problemsOf = async (server: Transport, client: Transport): Promise<string[]> => connectSignalProblems(client, await serve(server), CONNECT_MS);

describe('the connect-signal check', () => {
  const tcp = tcpTransport(runtime);
  passesRightTransports(problemsOf);

  it('names a connect that never sees its signal: aborted before, and while connecting', async () => {
    const problems = await problemsOf(tcp, mutantTransport(tcp, { ignoresConnectSignal: true }));
    expect(problems).toEqual([
      expect.stringMatching(/^connect\(127\.0\.0\.1:\d+\) given a signal aborted already resolved with a connection: it must reject with RpcError\(Cancelled\) before dialling/),
      expect.stringMatching(/^connect\(127\.0\.0\.1:\d+\) given a signal timed out already \(a TimeoutError reason\) resolved with a connection: it must reject with RpcError\(Timeout\) before dialling/),
      expect.stringMatching(/^connect\(127\.0\.0\.1:\d+\) whose signal aborted while it was under way resolved with a connection: it must give the connect up at the abort/),
    ]);
  });

  it('names a connect that says Cancelled for a signal whose reason is a timeout (AbortSignal.timeout)', async () => {
    const problems = await problemsOf(tcp, mutantTransport(tcp, { cancelsOnTimeoutSignal: true }));
    expect(problems).toEqual([
      expect.stringMatching(/^connect\(127\.0\.0\.1:\d+\) given a signal timed out already \(a TimeoutError reason\) rejected with RpcError\(Cancelled\): connect aborted: it must reject with RpcError\(Timeout\) before dialling/),
    ]);
  });

  // An in-process transport whose connect awaits once (a lookup) is up a microtask or two after
  // the call, before the kit's abort comes: it could not have given it up, and is not judged.
  it('does not judge a connect that was up before the abort came (an async one up within microtasks)', async () => {
    const address = await serve(tcp);
    const dialled: FrameConn[] = [];
    const upSoon: Transport = {
      ...tcp,
      name: 'up-within-microtasks',
      async connect(a, spec, options) {
        if (options?.signal?.aborted) throw connectAborted(formatAddress(a), options.signal.reason);
        const conn = dialled.shift()!;
        await null;
        return conn;
      },
    };
    // Dialled ahead, for real: the connect under test only hands one over.
    for (let i = 0; i < 2; i++) dialled.push(await tcp.connect(address, { headerLength: 1, bodyLength: () => 0 }, { timeoutMs: CONNECT_MS }));
    const problems = await connectSignalProblems(upSoon, address, CONNECT_MS);
    dialled.forEach((c) => c.close());
    expect(problems).toEqual([]);
  });
});
