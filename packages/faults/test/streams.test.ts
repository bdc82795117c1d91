import { reap, startProcess, waitFor } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { startServer, statsAt, stopServer } from '../src/servers.js';
import type { StreamClientParams } from '../src/stream-client-params.js';
import type { StreamKind } from '../src/stream-order.js';
import { runStreamFaults, type StreamCase, type StreamFault } from '../src/streams.js';
import { expectKept } from './expect-kept.js';

const CLIENT_SCRIPT = fileURLToPath(new URL('../dist/stream-client.js', import.meta.url));

const KINDS: StreamKind[] = ['feed', 'sink', 'bidi'];

/** Each kind meets each fault, in turn, on one set of servers: kills last, as a killed server serves no more. */
const cases = (faults: StreamFault[]): StreamCase[] => faults.flatMap((fault) => KINDS.map((kind) => ({ kind, fault })));

describe('streams under faults: real server processes, a FailoverPool at each hop', () => {
  it('one hop: a cancel, a deadline, a frozen and a killed server each end every kind of stream typed, in order, run once, nothing left held', async () => {
    expectKept(await runStreamFaults({ hops: 1, cases: [...cases(['cancel', 'deadline', 'stop-back', 'kill-back']), { kind: 'bidi', fault: 'kill-back', idempotent: true }] }));
  }, 90_000);

  it('two hops: a cancel and a deadline reach the back; a frozen back or front is found by keepalive; nothing left held', async () => {
    expectKept(await runStreamFaults({ hops: 2, cases: cases(['cancel', 'deadline', 'stop-back', 'stop-front']) }));
  }, 90_000);

  it('two hops: a back or a front killed mid-stream ends every kind typed, run once, and the back learns of a killed front', async () => {
    expectKept(await runStreamFaults({ hops: 2, cases: [...cases(['kill-back', 'kill-front']), { kind: 'feed', fault: 'kill-back', idempotent: true }] }));
  }, 90_000);

  // Before the server's keepalive (docs/protocol.md, "Server pings"), the back's openStreams stayed 1
  // for as long as the client stayed frozen: only the client pinged. (A link down for good is the
  // same to the server: nothing comes back; /tmp/streamtrial/partition-no-heal-gap.mjs, on a NetLab.)
  it('a stream with no deadline whose client froze mid-stream ends on the server too, within the server keepalive bound', async () => {
    const back = await startServer({ name: 'back', role: 'back', server: { closeWaitMs: 1000, keepaliveMs: 200, keepaliveTimeoutMs: 400, tickMs: 50 } });
    const params: StreamClientParams = {
      servers: [back.address],
      pool: { pool: { stream: { keepaliveMs: 200, keepaliveTimeoutMs: 600 } } },
      order: { id: 0, kind: 'feed', items: 0, size: 0, paceMs: 20, idempotent: false },
      items: 0,
    };
    const client = startProcess(process.execPath, [CLIENT_SCRIPT, JSON.stringify(params)]);
    try {
      await client.waitForLine(/^progress 5$/, 10_000);
      client.kill('SIGSTOP');
      // Bound: keepaliveMs + keepaliveTimeoutMs + two ticks; the wait is a safety net. Its message
      // carries the back's last stats (before: openStreams 1, signalled 0, the client's connection open).
      let last: unknown;
      await waitFor(async () => {
        const s = await statsAt(back.address);
        last = s;
        // The handler's signal fired, its stream slot is free, and only this stats call's connection is left.
        return s.signalled === 1 && s.openStreams === 0 && s.connections === 1;
      }, { timeoutMs: 10_000, what: "the frozen client's stream to end on the back" }).catch((e: Error) => {
        throw new Error(`${e.message}; last stats ${JSON.stringify(last)}`);
      });
    } finally {
      client.kill('SIGKILL');
      await reap(client);
      await stopServer(back);
    }
  }, 30_000);
});
