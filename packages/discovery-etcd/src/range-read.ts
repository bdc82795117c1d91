import type { Etcd3, IKeyValue } from 'etcd3';
import { withinAttempts, type CallOptions } from './attempt-deadline.js';
import { ValuePages } from './value-pages.js';

/** Keys listed per page (keys alone: small, whatever the values are). */
const KEY_PAGE = 1000;
/**
 * The most one read call waits, each attempt of it on one member a quarter of that (see
 * withinAttempts). Without it a call sent to a stalled member of several (SIGSTOP, a frozen host)
 * waited for good, etcd3 setting no deadline of its own, and the view was never read.
 */
export const READ_BOUND_MS = 10_000;

/** The call options of one read of `client` (see READ_BOUND_MS): how a PrefixReader bounds its calls unless told otherwise. */
export const boundedRead =
  (client: Etcd3): ReadBound =>
  () =>
    withinAttempts(client, Date.now() + READ_BOUND_MS, READ_BOUND_MS);

/** Call options for one read call, made as it is sent. */
export type ReadBound = () => CallOptions;

export interface RangeRead {
  /** The revision the whole read is at. */
  revision: number;
  kvs: IKeyValue[];
}

/**
 * Reads every key under a prefix as of one revision. Not in one range read: that answer can be
 * larger than the 4 MiB a gRPC client takes in one message (etcd takes values up to 1.5 MiB,
 * and anyone may write under the prefix); etcd3 counts that as a failure of the host, retries,
 * opens its circuit breaker (failing every call on the client, lease keepalives included), and
 * every later attempt fails the same way, so the view would never be read. Instead the keys are
 * listed alone, in pages, and their values read in pages sized to stay well under that limit,
 * a page refused all the same read again in halves (see ValuePages), all pinned to the first
 * listing page's revision so that together they are one snapshot.
 *
 * A single value can still be past that limit (etcd run with a raised `--max-request-bytes`).
 * gRPC refuses it from its length prefix, before buffering it; the key is then reported to
 * `onTooLarge` and left out, and remembered with its mod revision so that later reads skip it
 * (their pages end before it and start after it) without asking until it is written again. Every
 * value read carries TOO_LARGE_IS_NOT_A_FAULT:
 * etcd3 would count the refusal as a failure of the host, retry it, reset every connection of the
 * client and open its circuit breaker (every call on the client, lease keepalives included, failing
 * for 5 s); so marked, it is one refused read, and nothing else of the client notices. A key
 * written again while it was left out is presumed too large still when the read follows a watch
 * broken by a response too large (`presumeTooLarge`): that break is what a new version of it
 * does, and the read would only be refused again. A value of it that the watch delivers is
 * readable: it is then forgotten (`forget`).
 */
export class PrefixReader {
  /**
   * Key (its bytes, one char a byte: two keys that are not UTF-8 may have one text) → the mod
   * revision at which its value was too large to read. Only keys still listed.
   */
  private readonly tooLarge = new Map<string, string>();

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly onTooLarge: (key: string) => void,
    private readonly bound: ReadBound = boundedRead(client),
  ) {}

  async read(presumeTooLarge = false): Promise<RangeRead> {
    const { revision, keys } = await listKeys(this.client, this.prefix, this.bound);
    this.forgetChanged(keys, presumeTooLarge);
    const pages = new ValuePages(this.client, revision, this.bound, (listed) => this.refused(listed));
    const kvs: IKeyValue[] = [];
    // Runs of keys between those known too large: a page never holds one of those.
    let run: IKeyValue[] = [];
    for (const kv of keys) {
      if (this.tooLarge.get(kv.key.toString('latin1')) !== kv.mod_revision) {
        run.push(kv);
        continue;
      }
      await pages.read(run, kvs);
      run = [];
    }
    await pages.read(run, kvs);
    return { revision: Number(revision), kvs };
  }

  /** `listed`'s value is too large to read by itself: left out, and not asked for until written again. */
  private refused(listed: IKeyValue): void {
    this.tooLarge.set(listed.key.toString('latin1'), listed.mod_revision);
    this.onTooLarge(listed.key.toString());
  }

  /** How many listed keys are left out as too large to read (they are under the prefix all the same). */
  get skipped(): number {
    return this.tooLarge.size;
  }

  /** A value of `key` was read (the watch delivered it) or it was deleted: read it again if it is listed. */
  forget(key: Buffer): void {
    this.tooLarge.delete(key.toString('latin1'));
  }

  /** Forgets keys no longer listed, so that the map holds listed keys only; and those written since, unless presumed too large still. */
  private forgetChanged(keys: readonly IKeyValue[], presumeTooLarge: boolean): void {
    if (this.tooLarge.size === 0) return;
    const now = new Map(keys.map((kv) => [kv.key.toString('latin1'), kv.mod_revision]));
    for (const [key, rev] of this.tooLarge) {
      const listed = now.get(key);
      if (listed === rev) continue;
      if (listed === undefined || !presumeTooLarge) {
        this.tooLarge.delete(key);
        continue;
      }
      this.tooLarge.set(key, listed);
      this.onTooLarge(Buffer.from(key, 'latin1').toString());
    }
  }
}

async function listKeys(client: Etcd3, prefix: string, bound: ReadBound): Promise<{ revision: string; keys: IKeyValue[] }> {
  const range_end = prefixEnd(Buffer.from(prefix));
  const keys: IKeyValue[] = [];
  let key = Buffer.from(prefix);
  let revision: string | undefined;
  for (;;) {
    const res = await client.kv.range({ key, range_end, limit: KEY_PAGE, keys_only: true, revision }, bound());
    revision ??= res.header.revision;
    keys.push(...res.kvs);
    const last = keys.at(-1)?.key;
    if (!res.more || !last) return { revision, keys };
    key = Buffer.concat([last, Buffer.from([0])]); // the smallest key after the last one listed
  }
}

/** The first key past every key that starts with `prefix` (whose last byte is '/', below 0xff). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]! += 1;
  return end;
}
