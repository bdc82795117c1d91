import { netnsUnavailable } from '@skein/test-utils';
import { describe, it } from 'vitest';
import type { StreamKind } from '../src/stream-order.js';
import { runStreamPartition } from '../src/stream-partition.js';
import { expectKept } from './expect-kept.js';

const KINDS: StreamKind[] = ['feed', 'sink', 'bidi'];

// Real hosts as far as the network goes: the client, the front and the back each in a network
// namespace of its own. Needs root (or CAP_NET_ADMIN): skipped with the reason otherwise.
const unavailable = netnsUnavailable();

describe.skipIf(unavailable !== undefined)(`stream partition: a link down mid-stream across NetLab hosts${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  for (const cut of ['back', 'front'] as const) {
    it(`${cut} link down: each kind ends with IO by keepalive, in order, run once; once healed nothing is left held`, async () => {
      const reports = await Promise.all(KINDS.map((kind) => runStreamPartition({ kind, cut })));
      for (const r of reports) expectKept(r);
    }, 90_000);
  }
});
