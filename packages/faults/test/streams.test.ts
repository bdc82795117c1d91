import { describe, it } from 'vitest';
import type { StreamKind } from '../src/stream-order.js';
import { runStreamFaults, type StreamCase, type StreamFault } from '../src/streams.js';
import { expectKept } from './expect-kept.js';

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

  // Not local to fix (a server-side keepalive is a protocol change; see docs/faults.md). Reproduced
  // by /tmp/streamtrial/frozen-client-gap.mjs (client SIGSTOPped: the back's openStreams stays 1
  // for the 30 s watched) and partition-no-heal-gap.mjs (client's link down for good: the same).
  it.todo('a stream with no deadline whose client froze or was cut off for good mid-stream ends on the server too, within a keepalive bound');
});
