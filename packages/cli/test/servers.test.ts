import { EtcdRegistrar } from '@skein/discovery-etcd';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer, createRouter, type Registration } from '@skein/stream';
import { freePort, portOf, startEtcd, testCleanups, type EtcdCluster } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { Etcd3 } from 'etcd3';
import net from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { skein } from './skein-bin.js';

// `skein servers` against a real etcd, listing what @skein/discovery-etcd's EtcdRegistrar wrote
// for real servers; each listed address answers `skein ping`.

let etcd: EtcdCluster;
let client: Etcd3;
beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3({ hosts: etcd.endpoints, dialTimeout: 2000 });
}, 60_000);
afterAll(async () => {
  client?.close();
  await etcd?.close();
});

// Each test closes what it made by its own `cleanup` (testCleanups: when that test ends): tests
// marked concurrent run at once, each under a prefix (or type) of its own, much of each being a
// CLI child starting up. The one that asserts etcd's revision and leases unmoved runs alone.
type Cleanup = (() => unknown)[];

/** A listening server registered as `type`/`id` under `prefix`; closed by `cleanup`. Its address. */
async function registered(cleanup: Cleanup, prefix: string, type: string, id: string, more: { weight?: number; meta?: Record<string, string> } = {}): Promise<{ address: string; registration: Registration }> {
  const server = new RpcServer({ dispatch: createRouter({}) });
  const bound = await server.listen(tcpTransport(nodeRuntime), '127.0.0.1:0');
  cleanup.push(() => server.close());
  const address = `127.0.0.1:${portOf(bound)}`;
  const registration = await new EtcdRegistrar({ client, prefix }).register({ type, id, address, ...more });
  cleanup.push(() => registration.close());
  return { address, registration };
}

let prefixes = 0;
/** A fresh prefix per test: the tests share one etcd. */
const freshPrefix = (): string => `test${++prefixes}/servers`;

describe('skein servers', () => {
  // First and alone (the tests after it run at once): any other test's write or lease would move
  // what it compares.
  it('only reads: etcd holds the same revision and leases after a listing, bad keys and all', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const prefix = freshPrefix();
    await registered(cleanup, prefix, 'chat', 'chat-a');
    await client.put(`${prefix}/chat/broken`).value('{not json');
    cleanup.push(() => client.delete().prefix(`${prefix}/`));
    // A write of any key moves the revision; a lease granted (even for nothing) is listed.
    const held = async () => ({
      revision: (await client.kv.range({ key: Buffer.from(prefix) })).header.revision,
      leases: (await client.leaseClient.leaseLeases()).leases.map((l) => l.ID).sort(),
    });
    const before = await held();
    const r = await skein('servers', '--etcd', etcd.endpoints[0]!, '--prefix', prefix, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).map((e: { id: string }) => e.id)).toEqual(['chat-a']);
    expect(await held()).toEqual(before);
  });

  it.concurrent('lists every registered server: type, id, address, weight and meta, by type then id', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const prefix = freshPrefix();
    const b = await registered(cleanup, prefix, 'chat', 'chat-b', { weight: 2, meta: { zone: 'eu-1', v: '3' } });
    const a = await registered(cleanup, prefix, 'chat', 'chat-a');
    const s = await registered(cleanup, prefix, 'store', 'store-1');
    // Listing and ping, a process each, at once.
    const [r, ping] = await Promise.all([skein('servers', '--etcd', etcd.endpoints[0]!, '--prefix', prefix), skein('ping', s.address)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').map((l) => l.split(/\s+/).join(' '))).toEqual([
      'TYPE ID ADDRESS WEIGHT META',
      `chat chat-a ${a.address} 1`,
      `chat chat-b ${b.address} 2 zone=eu-1,v=3`,
      `store store-1 ${s.address} 1`,
      '',
    ]);
    // What is listed is where the servers are.
    expect(ping.code).toBe(0);
  });

  it.concurrent('--json prints one JSON array; --type keeps one type; a closed registration is gone', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const prefix = freshPrefix();
    const a = await registered(cleanup, prefix, 'chat', 'chat-a', { meta: { zone: 'eu-1' } });
    const gone = await registered(cleanup, prefix, 'chat', 'chat-b');
    await registered(cleanup, prefix, 'store', 'store-1');
    const r = await skein('servers', '--etcd', etcd.endpoints[0]!, '--prefix', prefix, '--type', 'chat', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { type: 'chat', id: 'chat-a', address: a.address, weight: 1, meta: { zone: 'eu-1' } },
      { type: 'chat', id: 'chat-b', address: gone.address, weight: 1, meta: {} },
    ]);
    await gone.registration.close();
    const after = await skein('servers', '--etcd', etcd.endpoints[0]!, '--prefix', prefix, '--type', 'chat', '--json');
    expect(JSON.parse(after.stdout).map((e: { id: string }) => e.id)).toEqual(['chat-a']);
  });

  it.concurrent('reads the default prefix skein/servers, and says so when nothing is registered there', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    // Type nobody is never registered: its listing runs beside h123's registration and listing.
    const [none, [a, r]] = await Promise.all([
      skein('servers', '--etcd', etcd.endpoints[0]!, '--type', 'nobody'),
      registered(cleanup, 'skein/servers', 'h123', 'one').then(async (a) => [a, await skein('servers', '--etcd', etcd.endpoints[0]!, '--type', 'h123', '--json')] as const),
    ]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^no servers registered under skein\/servers\/nobody\/ \(etcd revision \d+\)\n$/);
    expect(JSON.parse(r.stdout)).toEqual([{ type: 'h123', id: 'one', address: a.address, weight: 1, meta: {} }]);
  });

  it.concurrent('names the keys that are no entry on stderr and lists the servers beside them; what etcd holds cannot drive the terminal', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const prefix = freshPrefix();
    const a = await registered(cleanup, prefix, 'chat', 'chat-a', { meta: { note: '\x1b]0;owned\x07' } });
    await client.put(`${prefix}/chat/broken`).value('{not json');
    await client.put(`${prefix}/no-id`).value('{}');
    cleanup.push(() => client.delete().prefix(`${prefix}/`));
    const r = await skein('servers', '--etcd', etcd.endpoints[0]!, '--prefix', prefix);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^skipped ${prefix}/chat/broken: value of ${prefix}/chat/broken is not JSON: .*\\nskipped ${prefix}/no-id: key .* is not <prefix>/<type>/<id>\\n$`));
    expect(r.stdout).toContain(`chat-a  ${a.address}`);
    expect(r.stdout).toContain('note=\\u001b]0;owned\\u0007');
    expect(r.stdout).not.toContain('\x1b');
  });

  it.concurrent('fails with Unreachable (exit 1) naming etcd when nothing listens there', async ({ expect }) => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await skein('servers', '--etcd', url, '--timeout', '1500');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: Unreachable \\(rpc_unreachable\\): cannot read skein/servers/ from etcd at ${url.replace(/[.]/g, '\\.')}`));
    // Nothing answered a TLS handshake there either: no TLS hint.
    expect(r.stderr).not.toContain('TLS');
  });

  // The URL class drops a scheme's own port (`http://h:80` has port ''): an explicit :80 was
  // refused as "has no port". It is dialled (nothing listens there in a test: Unreachable, or
  // Timeout if something accepts), and named with its port; no port at all is still refused below.
  it.concurrent('dials an explicit :80, the URL scheme\'s own port, naming it', async ({ expect }) => {
    const r = await skein('servers', '--etcd', 'http://127.0.0.1:80', '--timeout', '1500');
    expect(r.stderr).not.toMatch(/has no port/);
    expect(r.stderr).toMatch(/^error: (Unreachable|Timeout) .*etcd at http:\/\/127\.0\.0\.1:80\b/);
    expect(r.code).toBe(1);
  });

  it.concurrent('fails with Timeout (exit 1) naming etcd when it accepts and never answers, after --timeout', async (t) => {
    const { expect } = t;
    const cleanup = testCleanups(t);
    const silent = net.createServer((socket) => cleanup.push(() => socket.destroy()));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => silent.close(resolve)));
    const url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const r = await skein('servers', '--etcd', url, '--timeout', '800');
    expect(r.stderr).toBe(`error: Timeout (rpc_timeout): etcd at ${url} did not answer a read of skein/servers/ within 800 ms\n`);
    expect(r.code).toBe(1);
  });

  it.concurrent.for<[string[], RegExp]>([
    [[], /^skein: servers needs --etcd http:\/\/host:2379/],
    [['--etcd', 'https://127.0.0.1:2379'], /only http:\/\/ is supported/],
    [['--etcd', 'http://root:s3cret@127.0.0.1:2379'], /a user and password in the URL are not sent/],
    [['--etcd', 'http://127.0.0.1'], /has no port/],
    [['--etcd', 'http://127.0.0.1:2379', '--type', 'a/b'], /--type must be a server type/],
    [['127.0.0.1:2379'], /^skein: usage: skein servers --etcd .* \[--timeout MS\]\n/],
    // etcd's client dials host:port: a path (or query) was dropped without a word.
    [['--etcd', 'http://127.0.0.1:2379/foo'], /^skein: --etcd "http:\/\/127\.0\.0\.1:2379\/foo" has a path, query or fragment, which etcd's client cannot use/],
    [['--etcd', 'http://127.0.0.1:2379?x=1'], /has a path, query or fragment/],
    // No prefix left once its trailing slash goes: a usage error as the others, not InvalidArgument from the read.
    [['--etcd', 'http://127.0.0.1:2379', '--prefix', '/'], /^skein: --prefix must name a key prefix \(skein\/servers, the default\), got "\/"\n\(skein --help for usage\)\n$/],
  ])('refuses %j before reading (exit 2)', async ([args, message], { expect }) => {
    const r = await skein('servers', ...args);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toContain('s3cret');
    expect(r.code).toBe(2);
  });
});
