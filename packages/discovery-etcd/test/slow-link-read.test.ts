import { startTcpRelay } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { etcdForFile } from './harness.js';

// One etcd member, healthy, behind a slow link (every connection, also those etcd3 dials again
// after a failed call). A view read's attempt bound is there to leave a stalled member, which
// answers nothing; it must not cut a healthy member's answer that is still arriving: bounded as a
// whole transfer, a value that takes longer than the bound to arrive was never read, every attempt
// cut and every connection reset, and the discovery never became ready.

const file = etcdForFile();
const { cleanup, client } = file;

/** About 5 s for the view below (its values read in one page) to arrive: past one attempt's 2.5 s, within a read's 10 s. */
const LINK_BYTES_PER_SECOND = 400_000;
const ENTRIES = 16;
/** Near the largest entry a registrar writes (128 KiB of key and value). */
const ENTRY_META_BYTES = 120 * 1024;

describe('a discovery on a slow link to a healthy etcd', () => {
  it('reads a view whose values take longer than one attempt to arrive', async () => {
    const prefix = 'slow-link/servers';
    const registrar = new EtcdRegistrar({ client: client(), prefix });
    for (let i = 0; i < ENTRIES; i++) {
      const reg = await registrar.register({ type: 'chat', id: `big-${i}`, address: `127.0.0.1:${4000 + i}`, meta: { pad: 'x'.repeat(ENTRY_META_BYTES) } });
      cleanup.push(() => reg.close());
    }
    const relay = await startTcpRelay(file.etcd.endpoints[0]!, { bytesPerSecond: LINK_BYTES_PER_SECOND });
    cleanup.push(() => relay.close());

    const ids: string[] = [];
    const watch = new EtcdDiscovery({ client: client(`http://${relay.address}`), prefix }).watch((e) => void ids.push(e.entry.id));
    cleanup.push(() => watch.close());
    await watch.ready({ timeoutMs: 40_000 });
    expect(ids.sort()).toEqual(Array.from({ length: ENTRIES }, (_, i) => `big-${i}`).sort());
  }, 60_000);
});
