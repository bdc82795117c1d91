import { netnsUnavailable } from '@skein/test-utils';
import { describe, it } from 'vitest';
import { runPartition } from '../src/partition.js';
import { expectKept } from './expect-kept.js';

// Real hosts as far as the network goes: the client, each front and each back in a network
// namespace of its own. Needs root (or CAP_NET_ADMIN): skipped with the reason otherwise.
const unavailable = netnsUnavailable();

describe.skipIf(unavailable !== undefined)(`partition: packets dropped mid-flood across hosts${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('runs no non-idempotent call twice, fails none as "never ran" that ran, fails idempotent ones only by deadline or unreachable, and settles every call', async () => {
    const report = await runPartition({ calls: 3000, inFlight: 32, ratePerSecond: 200 });
    expectKept(report);
  }, 180_000);
});
