import { sleep, startTcpRelay, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { etcdForFile } from './harness.js';

// How often a registration and a discovery watch dial an etcd that is down (its port refusing):
// each reaches etcd through a relay of its own, which counts the connections opened to it.
// Before the fix a registration dialed about 20 times a second (etcd3's lease keepalive tries
// again every 100 ms, each failure resetting the client's connections) until twice its TTL had
// passed: about 150 dials in the window below. With the backoff (full jitter, at most 5 s here)
// it is a few dozen at most, most of them in the first second.

const file = etcdForFile();
const { cleanup, client } = file;

/** The window dials are counted over while etcd is down. */
const WINDOW_MS = 8000;
/** Far above a backoff's count, far below a 100 ms loop's (80 for one stream alone). */
const MAX_DIALS = 50;

describe('a registration and a discovery watch while etcd is down', () => {
  it('dial it with backoff, not in a loop, and stop dialing once closed (before the fix: a registration dialed ~20 times a second)', async () => {
    const prefix = 'dead/servers';
    const [toRegistrar, toWatch] = [await startTcpRelay(file.etcd.endpoints[0]!), await startTcpRelay(file.etcd.endpoints[0]!)];
    cleanup.push(() => toRegistrar.close(), () => toWatch.close());
    // A TTL long enough that the lease is not given up within the window (that is twice the TTL).
    const reg = await new EtcdRegistrar({ client: client(`http://${toRegistrar.address}`), prefix, ttlSeconds: 30 }).register({ type: 'chat', id: 'a', address: '127.0.0.1:1' });
    cleanup.push(() => reg.close());
    const watch = new EtcdDiscovery({ client: client(`http://${toWatch.address}`), prefix }).watch(() => undefined);
    cleanup.push(() => watch.close());
    await watch.ready();

    await file.etcd.members[0]!.stop('SIGKILL');
    await waitFor(() => reg.status().state === 'stale' && watch.status().state === 'stale', { what: 'both to notice' });
    const from = [toRegistrar.connections(), toWatch.connections()];
    await sleep(WINDOW_MS);
    const dials = [toRegistrar.connections() - from[0]!, toWatch.connections() - from[1]!];
    expect({ registration: dials[0]! <= MAX_DIALS, watch: dials[1]! <= MAX_DIALS, dials }).toMatchObject({ registration: true, watch: true });
    // Still trying: backoff, not giving up. Waited for, not demanded within the window: after
    // three failures etcd3's circuit breaker fails every call without a dial for 5 s, and the next
    // attempt comes up to a backoff (5 s) after that, so two dials can be ~10 s apart.
    await waitFor(() => toRegistrar.connections() > from[0]! && toWatch.connections() > from[1]!, { what: 'both to dial again', timeoutMs: 30_000 });

    await within(reg.close(), 40_000, 'registration close');
    await watch.close();
    // etcd3 lets a channel it was connecting when it reset it go on for up to a second (a
    // workaround of a grpc-js bug): the close's own failed revoke leaves a dial or two after it.
    await sleep(2000);
    const closedAt = [toRegistrar.connections(), toWatch.connections()];
    // Longer than the backoff's largest delay: a loop still running would dial in it.
    await sleep(6000);
    expect([toRegistrar.connections() - closedAt[0]!, toWatch.connections() - closedAt[1]!]).toEqual([0, 0]);
  }, 120_000);
});
