import { ErrorCode, RpcError, connectTimerMs, invalidArgument } from '@skein/core';
import type { DiscoveryEntry } from '@skein/stream';
import { Etcd3, EtcdAuthenticationFailedError, EtcdPermissionDeniedError, GRPCUnauthenticatedError } from 'etcd3';
import { withinAttempts } from './attempt-deadline.js';
import { endpointsOf } from './etcd-endpoints.js';
import { checkedPrefix, decodeEntry, keyText, rangeOf } from './etcd-entry.js';
import { PrefixReader, type RangeRead } from './range-read.js';
import { compacted, grpcReason, reason } from './reason.js';

export interface ReadEntriesOptions {
  /** Your etcd3 client; or `hosts`, and one is made for this read and closed after it. */
  client?: Etcd3 | undefined;
  /** etcd's client URLs (`http://10.0.0.2:2379`), when no `client` is given. */
  hosts?: string | readonly string[] | undefined;
  /** The key prefix entries live under. Default `skein/servers`. */
  prefix?: string | undefined;
  /** Only entries of this server type. */
  type?: string | undefined;
  /** How long the whole read may take. Default 5000 ms. */
  timeoutMs?: number | undefined;
}

/** A key under the prefix that is no entry (not `<prefix>/<type>/<id>`, not JSON, too large to read), and why. */
export interface SkippedKey {
  readonly key: string;
  readonly why: string;
}

export interface EntriesRead {
  /** The etcd revision the read is at: every entry is as of then. */
  readonly revision: number;
  /** By type, then id. */
  readonly entries: DiscoveryEntry[];
  readonly skipped: SkippedKey[];
}

/**
 * Every entry under the prefix, read once, as of one revision: what `EtcdDiscovery` starts from,
 * for tools that list servers (`skein servers`) rather than follow them. Keys that are no entry
 * are reported, not thrown: one bad key must not hide the servers beside it. etcd out of reach
 * rejects with Unreachable, or Timeout past `timeoutMs`, naming the hosts; an etcd with auth on
 * that refuses the read, with Unauthenticated (no user sent) or PermissionDenied.
 */
export async function readEntries(opts: ReadEntriesOptions): Promise<EntriesRead> {
  const prefix = checkedPrefix(opts.prefix);
  const timeoutMs = opts.timeoutMs ?? 5000;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw invalidArgument(`readEntries: timeoutMs ${timeoutMs} is not a positive duration`);
  if (opts.type !== undefined && (opts.type === '' || opts.type.includes('/'))) throw invalidArgument(`a server type is a non-empty name without '/', got ${JSON.stringify(opts.type)}`);
  const { client, where, owned } = clientOf(opts);
  // A type narrows the range read: its entries only, however many others there are.
  const range = opts.type === undefined ? rangeOf(prefix) : rangeOf(`${prefix}/${opts.type}`);
  const skipped: SkippedKey[] = [];
  // Each call bounded by the read's own time, each attempt of it on one member a quarter of that
  // when the client has several (see withinAttempts): one stalled member must not hold the read.
  const boundMs = connectTimerMs(timeoutMs);
  // A reader, and what it left out, per read of the view: a key left out by a read that etcd
  // compacted away may be gone, readable or written again at the next read's revision.
  const readView = (): Promise<RangeRead> => {
    skipped.length = 0;
    return new PrefixReader(client, range, (key) => skipped.push({ key, why: 'its value is too large to read' }), () => withinAttempts(client, Date.now() + boundMs, boundMs)).read();
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    // Capped: past 2^31-1 ms setTimeout fires at once, and a long wait would be none at all.
    timer = setTimeout(() => reject(new RpcError(ErrorCode.Timeout, `etcd at ${where} did not answer a read of ${range} within ${timeoutMs} ms`)), connectTimerMs(timeoutMs));
  });
  try {
    const read = await Promise.race([readThrough(readView), late]).catch((err: unknown) => {
      throw readFailure(err, range, where);
    });
    return { revision: read.revision, entries: decoded(prefix, read.kvs, skipped), skipped };
  } finally {
    clearTimeout(timer);
    // Closing cancels what is still under way (a read that timed out): nothing outlives the call.
    if (owned) client.close();
  }
}

/** Reads of one view at most, when etcd compacts away each one's revision before its values are read. */
const COMPACTED_READS = 3;

/**
 * The prefix read as of one revision: its keys listed, then their values read at that revision.
 * etcd may compact it away in between (a busy store compacts every few minutes): that read is
 * made again, at a new revision, a few times at most, where it failed Unreachable.
 */
async function readThrough(readView: () => Promise<RangeRead>): Promise<RangeRead> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readView();
    } catch (err) {
      if (!compacted(err) || attempt === COMPACTED_READS) throw err;
    }
  }
}

function clientOf(opts: ReadEntriesOptions): { client: Etcd3; where: string; owned: boolean } {
  // Its members named where they can be read (see endpointsOf), as `hosts` are: an error must say which etcd.
  if (opts.client) return { client: opts.client, where: endpointsOf(opts.client)?.join(', ') || 'the client given', owned: false };
  const hosts = typeof opts.hosts === 'string' ? [opts.hosts] : [...(opts.hosts ?? [])];
  if (hosts.length === 0 || hosts.some((h) => typeof h !== 'string' || h.trim() === '')) throw invalidArgument('readEntries needs an etcd3 client or etcd hosts (http://host:2379)');
  return { client: new Etcd3({ hosts }), where: hosts.join(', '), owned: true };
}

function decoded(prefix: string, kvs: readonly { key: Buffer; value: Buffer }[], skipped: SkippedKey[]): DiscoveryEntry[] {
  const entries: DiscoveryEntry[] = [];
  for (const kv of kvs) {
    const key = keyText(kv.key);
    // Read loosely (U+FFFD for each bad byte) it would name a server, maybe one of a real key.
    if (key === undefined) {
      skipped.push({ key: kv.key.toString(), why: `key (hex ${kv.key.toString('hex')}) is not UTF-8` });
      continue;
    }
    try {
      entries.push(decodeEntry(prefix, key, kv.value.toString()));
    } catch (err) {
      skipped.push({ key, why: reason(err) });
    }
  }
  return entries.sort((a, b) => compare(a.type, b.type) || compare(a.id, b.id));
}

/**
 * What a failed read says, typed: an etcd with auth on that refused the read is no etcd out of
 * reach (Unreachable would have a caller, or an operator, wait for the network to come back).
 */
function readFailure(err: unknown, range: string, where: string): RpcError {
  if (err instanceof RpcError) return err;
  const why = grpcReason(err);
  if (err instanceof EtcdPermissionDeniedError) return new RpcError(ErrorCode.PermissionDenied, `etcd at ${where} refused a read of ${range}: ${why}`, { cause: err });
  // etcd with auth on answers a client that sent no user "user name is empty" (INVALID_ARGUMENT).
  if (err instanceof EtcdAuthenticationFailedError || err instanceof GRPCUnauthenticatedError || /user name is empty/.test(why)) {
    return new RpcError(ErrorCode.Unauthenticated, `etcd at ${where} wants a user to read ${range} (its auth is on): ${why}`, { cause: err });
  }
  return new RpcError(ErrorCode.Unreachable, `cannot read ${range} from etcd at ${where}: ${why}`, { cause: err });
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
