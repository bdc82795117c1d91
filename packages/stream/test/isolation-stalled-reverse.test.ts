import { cleanups, deferred, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, createRouter, type Caller, type ServerRequest } from '../src/index.js';
import type { ReverseCaller } from '../src/server/reverse-caller.js';
import { startServer } from './harness.js';

/*
 * One slow party never stalls the others: a client serving the server's calls (calls both ways)
 * whose handlers stop answering holds those reverse calls and its own reverse window (README
 * "Calls both ways"), never the server's other work: other clients' calls, the server's reverse
 * calls to other clients, nor the stalled client's own calls to the server on that connection.
 * What decides is the order of events: all of that finishes while the stalled reverse calls are
 * still out and waiting.
 */

const cleanup = cleanups();

/** The stalled client's reverse window (its `serveWindow`). */
const WINDOW = 4;
const LONG = 60_000;
const QUICK = 10_000;
const utf8 = new TextEncoder();
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

const reverse = (c: Caller, timeoutMs: number): Promise<string> =>
  new Promise((resolve, reject) => c.send('work', new Uint8Array(0), { timeoutMs }, (err, reply) => (err ? reject(err) : resolve(text(reply!.msg)))));

describe('a client whose serving of reverse calls stalls', () => {
  it("holds only its own reverse calls: other clients' calls, reverse calls to them and its own calls to the server go on", async () => {
    const callers = new Map<string, Caller>();
    const s = await startServer(
      {
        // Each client says who it is, so the server knows which connection's caller is whose.
        register: (req: ServerRequest) => void callers.set(text(req.msg), req.conn.caller!),
        echo: (req) => req.msg,
        // A handler that calls back the client calling it, as a server asking its client for more does.
        askBack: async (req) => utf8.encode(await reverse(req.conn.caller!, QUICK)),
      },
      { closeWaitMs: 0 },
    );
    cleanup.push(() => s.server.close());
    const gate = deferred();
    cleanup.push(() => gate.resolve());
    let stalledRunning = 0;
    const stalled = await s.connect({ serveWindow: WINDOW, serve: createRouter({ work: async () => (stalledRunning++, await gate.promise, utf8.encode('late')) }) });
    const other = await s.connect({ serve: createRouter({ work: () => utf8.encode('other') }) });
    cleanup.push(() => stalled.destroy(), () => other.destroy());
    await stalled.call('register', utf8.encode('stalled'));
    await other.call('register', utf8.encode('other'));

    // Its window fills with reverse calls its handlers never answer, and as many again wait behind them.
    const toStalled = callers.get('stalled') as ReverseCaller;
    const held = Array.from({ length: 2 * WINDOW }, () => reverse(toStalled, LONG).catch(() => undefined));
    await waitFor(() => (stalledRunning === WINDOW && toStalled.queued === WINDOW) || undefined, { what: "the stalled client's reverse window full, calls waiting" });

    const echo = (c: ClientStream, n: number) => Promise.all(Array.from({ length: n }, (_, i) => c.call('echo', new Uint8Array([i]), { timeoutMs: QUICK }).then((r) => r.msg[0])));
    const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);
    // Another client's calls, and the server's reverse calls to it, plain and from a handler.
    expect(await echo(other, 50)).toEqual(upTo(50));
    expect(await Promise.all(Array.from({ length: 20 }, () => reverse(callers.get('other')!, QUICK)))).toEqual(Array(20).fill('other'));
    expect(text((await other.call('askBack', new Uint8Array(0), { timeoutMs: QUICK })).msg)).toBe('other');
    // The stalled client's own calls to the server, on the same connection.
    expect(await echo(stalled, 50)).toEqual(upTo(50));

    // Still stalled: its window's calls out, the rest waiting, none answered.
    expect(stalledRunning).toBe(WINDOW);
    expect([toStalled.inFlight, toStalled.queued]).toEqual([WINDOW, WINDOW]);
    gate.resolve();
    await Promise.all(held);
  });
});
