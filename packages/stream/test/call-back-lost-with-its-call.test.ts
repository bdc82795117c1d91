import { ErrorCode } from '@skein/core';
import { cleanups, deferred, rawConnect, startTcpRelay, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, createRouter, type CallOptions, type ServerRequest } from '../src/index.js';
import { receiveLimitsEntry } from '../src/wire/hello.js';
import { reverseOfferEntry } from '../src/wire/reverse-calls.js';
import { REVERSE_CONTROL_ENTRY } from '../src/wire/reverse-control.js';
import { callerOf, sendBy } from './reverse-harness.js';
import { helloOffer, requestFrame, startServer, transport, u32 } from './harness.js';

/*
 * Calls both ways on one connection: a handler on one side calls the other side back on its
 * call's behalf, with that call as its abort source (what `{ ctx }` does in @skein/api), and the
 * connection is lost while the call back is out. The loss aborts the handler's own call too; the
 * call back must still fail as a lost connection fails a call out (IO, "may have run"), not
 * Cancelled ("its caller gave up"): the other side may have run it, and nobody gave up on it.
 */

const cleanup = cleanups();
const MiB = 1024 * 1024;

/** A server whose `work` handler calls back `p.x` through its own request's connection, `opts(req)` its options; resolves what that call ended with. */
async function callingBackServer(opts: (req: ServerRequest) => CallOptions) {
  const outcome = deferred<unknown>();
  const s = await startServer({
    work: async (req: ServerRequest) => {
      await sendBy(req.conn.caller!, 'p.x', u32(1), opts(req)).then(
        () => outcome.resolve('answered'),
        (e: unknown) => outcome.resolve(e),
      );
      return new Uint8Array(0);
    },
  });
  cleanup.push(() => s.server.close());
  return { ...s, outcome: outcome.promise };
}

const mayHaveRun = { code: ErrorCode.IO, retry: 'idempotent', message: expect.stringMatching(/lost with the reverse call out: it may have run/) };

describe('a reverse call made for the call being handled, when the connection is lost under both', () => {
  for (const [what, callOpts] of [
    ['a plain call', {}],
    ['a call with a head (its timeout)', { timeoutMs: 60_000 }],
  ] as const) {
    it(`fails IO, may have run, not Cancelled: the client ends its side (${what})`, async () => {
      const s = await callingBackServer((req) => ({ abortSource: req, timeoutMs: 60_000 }));
      const running = deferred<void>();
      const c = await ClientStream.connect({
        transport,
        address: s.address,
        keepaliveMs: 0,
        // Runs, and never answers: the connection goes with the call out.
        serve: createRouter({ 'p.x': () => (running.resolve(), new Promise<Uint8Array>(() => {})) }),
      });
      cleanup.push(() => c.destroy());
      c.call('work', new Uint8Array(0), callOpts).catch(() => {});
      await running.promise;
      c.destroy();
      expect(await s.outcome).toMatchObject(mayHaveRun);
    });
  }

  it('fails IO, may have run, not Cancelled: the connection is reset', async () => {
    const s = await callingBackServer((req) => ({ abortSource: req, timeoutMs: 60_000 }));
    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    peer.write(helloOffer([receiveLimitsEntry(16 * MiB, 16 * MiB), reverseOfferEntry(4), REVERSE_CONTROL_ENTRY]));
    peer.write(requestFrame('work', 1));
    // The reverse call on the wire (a timed one: flag 0x1A), then a reset, not an end.
    const timedCall = Buffer.from('254d011a', 'hex');
    await waitFor(() => peer.received().includes(timedCall), { what: 'the reverse call' });
    peer.socket.resetAndDestroy();
    expect(await s.outcome).toMatchObject(mayHaveRun);
  });
});

describe("a client's call made for the server's call its handler runs, when the connection is lost under both", () => {
  it('fails IO, may have run, not Cancelled', async () => {
    const running = deferred<void>();
    // The server's `fwd` runs and never answers: the connection goes with the client's call out.
    const s = await startServer({ fwd: () => (running.resolve(), new Promise<Uint8Array>(() => {})) });
    cleanup.push(() => s.server.close());
    // Through a relay, to reset the connection as a broken link would, with the server up.
    const relay = await startTcpRelay(s.address);
    cleanup.push(() => relay.close());
    const outcome = deferred<unknown>();
    const client: ClientStream = await ClientStream.connect({
      transport,
      address: relay.address,
      keepaliveMs: 0,
      serve: createRouter({
        'p.x': async (req: ServerRequest) => {
          await sendBy(client, 'fwd', u32(1), { abortSource: req, timeoutMs: 60_000 }).then(
            () => outcome.resolve('answered'),
            (e: unknown) => outcome.resolve(e),
          );
          return new Uint8Array(0);
        },
      }),
    });
    cleanup.push(() => client.destroy());
    sendBy(await callerOf(s.server), 'p.x', u32(1), { timeoutMs: 60_000 }).catch(() => {});
    await running.promise;
    relay.cut();
    expect(await outcome.promise).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent', message: expect.stringMatching(/lost/) });
  });
});
