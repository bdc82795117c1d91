import { nodeRuntime } from '@skein/runtime-node';
import { FailoverPool, RpcServer, createRouter, followDiscovery } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileDiscovery } from '../src/file-discovery.js';

const transport = tcpTransport(nodeRuntime);
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function server(name: string): Promise<string> {
  const s = new RpcServer({ dispatch: createRouter({ who: () => new TextEncoder().encode(name) }) });
  const a = await s.listen(transport, '127.0.0.1:0');
  cleanup.push(() => s.close());
  return `127.0.0.1:${'port' in a ? a.port : 0}`;
}

describe('docs/discovery.md: a second backend in one file (FileDiscovery)', () => {
  it('routes to the servers the file lists, follows its changes, and keeps the last good list when it turns bad', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'skein-file-discovery-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'servers.json');
    const [a, b] = [await server('a'), await server('b')];
    writeFileSync(file, JSON.stringify([{ type: 'work', id: 'a', address: a }]));

    const discovery = new FileDiscovery(file);
    const pool = new FailoverPool({ transport, servers: [] });
    cleanup.push(() => pool.close());
    const watch = followDiscovery(pool, discovery, { type: 'work' });
    cleanup.push(() => watch.close());
    await watch.ready();
    expect(pool.servers().map((s) => s.address)).toEqual([a]);

    writeFileSync(file, JSON.stringify([{ type: 'work', id: 'b', address: b }]));
    await discovery.reload(); // the directory watch would too; the test does not wait on it
    expect(pool.servers().map((s) => s.address)).toEqual([b]);
    expect(new TextDecoder().decode((await pool.call('who')).msg)).toBe('b');

    writeFileSync(file, '[{"type": "work", "id": "c", "address": "no port"}]');
    await discovery.reload();
    expect(watch.status()).toMatchObject({ state: 'stale', reason: expect.stringContaining('not an address') });
    expect(pool.servers().map((s) => s.address)).toEqual([b]);
  });
});
