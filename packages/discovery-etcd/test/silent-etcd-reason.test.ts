import { ErrorCode } from '@skein/core';
import type { Watch } from '@skein/stream';
import { freePort, memoryLogger, startTcpRelay, waitFor, within, type LogLine } from '@skein/test-utils';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery } from '../src/index.js';
import { etcdForFile, stopMember } from './harness.js';

// What a discovery watch says when etcd accepts its connection and never answers (a relay that
// holds it, a SIGSTOPped etcd): before, gRPC's `DEADLINE_EXCEEDED ... after 0.000s, waiting for
// name resolution` alone, which sent a reader looking at DNS; now the members it asked and the
// read's bound, gRPC's words after. A refused connection and a name that does not resolve still
// say what they are. Real etcd, real sockets; each case waits for the warn line, not for a time.
// The cases run at once (each waits out the same fixed 10 s read bound, which no option shortens),
// each with its own client, relay and cleanup: the relays are muted (they never dial etcd), so
// the one case that stops the file's etcd changes nothing the others see.

const file = etcdForFile();
type Own = ReturnType<typeof file.forTest>;

/** A watch of an empty prefix through `client`, and its warn lines once the first one is said. */
async function firstStaleLine({ cleanup }: Own, client: Etcd3): Promise<{ watch: Watch; line: LogLine }> {
  const logger = memoryLogger();
  const watch = new EtcdDiscovery({ client, prefix: 'silent/servers', logger, backoff: { initialMs: 50, maxMs: 200 } }).watch(() => {});
  cleanup.push(() => watch.close());
  // A hang guard only: the read's bound (10 s) comes first.
  const line = await waitFor(() => logger.lines.find((l) => l.level === 'warn'), { timeoutMs: 30_000, what: 'the stale line' });
  return { watch, line };
}

/** What `ready()` rejects with now that the watch is stale: its reason, as a caller bounding start-up sees it. */
async function readyRefusal(watch: Watch): Promise<Error> {
  const err = await within(watch.ready({ timeoutMs: 1 }).then(() => undefined, (e: unknown) => e), 10_000, 'ready() to settle');
  expect(err).toMatchObject({ code: ErrorCode.Timeout });
  return err as Error;
}

const unanswered = (where: string, bound: string) => new RegExp(`^reading silent/servers/ failed: etcd at ${where} did not answer a read within ${bound} \\(gRPC: 4 DEADLINE_EXCEEDED: .+\\)$`);

describe.concurrent('a discovery watch whose etcd accepts and never answers', () => {
  it('through a relay that holds the connection: names the member and the read bound, gRPC after', async (t) => {
    const own = file.forTest(t);
    const relay = await startTcpRelay(file.etcd.members[0]!.clientUrl);
    own.cleanup.push(() => relay.close());
    relay.mute();
    const { watch, line } = await firstStaleLine(own, own.client(`http://${relay.address}`));
    const reason = unanswered(relay.address, '10000 ms');
    expect(line.obj.reason).toMatch(reason);
    expect(watch.status()).toMatchObject({ state: 'stale', reason: expect.stringMatching(reason) });
    expect((await readyRefusal(watch)).message).toContain(`the watch is stale: reading silent/servers/ failed: etcd at ${relay.address} did not answer a read within 10000 ms`);
  }, 60_000);

  it('with two members, both held: names both, and the bound of each and of the read', async (t) => {
    const own = file.forTest(t);
    const relays = [await startTcpRelay(file.etcd.members[0]!.clientUrl), await startTcpRelay(file.etcd.members[0]!.clientUrl)];
    for (const r of relays) {
      own.cleanup.push(() => r.close());
      r.mute();
    }
    const { line } = await firstStaleLine(own, own.client(relays.map((r) => `http://${r.address}`)));
    expect(line.obj.reason).toMatch(unanswered(`${relays[0]!.address}, ${relays[1]!.address}`, '2500 ms a member, 10000 ms in all'));
  }, 60_000);

  it('refused: still says the connection was refused', async (t) => {
    const own = file.forTest(t);
    const port = await freePort();
    const { watch, line } = await firstStaleLine(own, own.client(`http://127.0.0.1:${port}`));
    expect(line.obj.reason).toMatch(new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    expect(line.obj.reason).not.toMatch(/did not answer/);
    expect((await readyRefusal(watch)).message).toMatch(/ECONNREFUSED/);
  }, 60_000);

  it('a host name that does not resolve: still says so', async (t) => {
    const own = file.forTest(t);
    const { line } = await firstStaleLine(own, own.client('http://no-such-etcd.invalid:2379'));
    expect(line.obj.reason).toMatch(/Name resolution failed for target dns:no-such-etcd\.invalid:2379/);
    expect(line.obj.reason).not.toMatch(/did not answer/);
  }, 60_000);

  // The only case that reaches the file's etcd: it stops it (resumed by its own cleanup too).
  it('stopped (SIGSTOP): names the member and the read bound, and is live once it is resumed', async (t) => {
    const own = file.forTest(t);
    const member = file.etcd.members[0]!;
    await stopMember(member, own.cleanup);
    const { watch, line } = await firstStaleLine(own, own.client(member.clientUrl));
    const reason = unanswered(member.clientUrl.replace('http://', ''), '10000 ms');
    expect(line.obj.reason).toMatch(reason);
    expect((await readyRefusal(watch)).message).toMatch(/did not answer a read within 10000 ms/);
    member.proc!.kill('SIGCONT');
    await within(watch.ready(), 30_000, 'the watch live again');
    expect(watch.status().state).toBe('live');
  }, 60_000);
});
