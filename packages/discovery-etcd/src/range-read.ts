import type { Etcd3, IKeyValue } from 'etcd3';

/** Keys listed per page (keys alone: small, whatever the values are). */
const KEY_PAGE = 1000;
/** Values read at once: each read is one key, so one value, whatever its size. */
const PARALLEL_READS = 16;

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
 * listed alone, in pages, and each value is read by itself, all pinned to the first page's
 * revision so that together they are one snapshot.
 */
export async function readPrefix(client: Etcd3, prefix: string): Promise<RangeRead> {
  const { revision, keys } = await listKeys(client, prefix);
  const kvs: IKeyValue[] = [];
  for (let i = 0; i < keys.length; i += PARALLEL_READS) {
    const page = await Promise.all(keys.slice(i, i + PARALLEL_READS).map((key) => client.kv.range({ key, revision })));
    for (const res of page) kvs.push(...res.kvs);
  }
  return { revision: Number(revision), kvs };
}

async function listKeys(client: Etcd3, prefix: string): Promise<{ revision: string; keys: Buffer[] }> {
  const range_end = prefixEnd(Buffer.from(prefix));
  const keys: Buffer[] = [];
  let key = Buffer.from(prefix);
  let revision: string | undefined;
  for (;;) {
    const res = await client.kv.range({ key, range_end, limit: KEY_PAGE, keys_only: true, revision });
    revision ??= res.header.revision;
    for (const kv of res.kvs) keys.push(kv.key);
    const last = keys.at(-1);
    if (!res.more || !last) return { revision, keys };
    key = Buffer.concat([last, Buffer.from([0])]); // the smallest key after the last one listed
  }
}

/** The first key past every key that starts with `prefix` (whose last byte is '/', below 0xff). */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]! += 1;
  return end;
}
