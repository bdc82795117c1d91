import type { IKeyValue } from 'etcd3';

/**
 * A key's version as etcd numbers it: the revisions of its creation and of its last write, its
 * write count, and the lease it was written under ('0': none).
 */
export interface KeyVersion {
  readonly mod: string;
  readonly create: string;
  readonly version: string;
  readonly lease: string;
}

/**
 * The version of every key under a prefix, as of the revision a PrefixWatch has applied, kept so
 * that a resume can ask etcd whether it still has the same history. A revision alone cannot tell:
 * etcd started again on an empty data dir (or restored from an older snapshot) that was written to
 * before the watch came back can be past the revision the watch resumes from, and would then
 * accept the resume, and the watch would miss for good every change the new history made below
 * it (a server registered then never seen, one gone never leaving). In the same history a key,
 * read at that revision, has exactly the version kept here; in another history the key written
 * last is absent, or was written at other revisions, or under another lease.
 *
 * The lease is what tells apart a new history that wrote the same keys at the same revisions
 * (the same writes replayed in the same order, e.g. the same servers registering again in the same
 * order on an emptied etcd), which revisions cannot: etcd numbers a lease from its member id and
 * the time the member process started, in ms, plus a count of its requests, so a lease granted by
 * another process (a new data dir) never has the id of one granted before, while a restart on its
 * data dir keeps every lease and its id. Registrations write every entry under a lease; a key
 * written without one (by hand, by a tool) carries nothing of its history, so when the key
 * written last has none, the leased key written last is a second witness.
 */
export class HistoryWitness {
  /**
   * By the key's bytes (one char a byte): anyone may write under the prefix, and a key that is not
   * UTF-8 has a text that is not its bytes (each bad byte read as U+FFFD). Kept by that text, it was
   * read back, when it was the key written last, as another key, absent: etcd was taken for another
   * history at every resume, and the view read again whole, for good (a dozen reads a second); and
   * two such keys of one text were counted as one, so WatchCheck took the watch for behind.
   */
  private readonly keys = new Map<string, KeyVersion>();

  /** The whole prefix as read (`kvs`, at the revision the watch starts after). */
  reset(kvs: readonly IKeyValue[]): void {
    this.keys.clear();
    for (const kv of kvs) this.put(kv);
  }

  /** How many keys there are at the applied revision (those read or written through the watch). */
  get size(): number {
    return this.keys.size;
  }

  /** A write applied. */
  put(kv: IKeyValue): void {
    this.keys.set(kv.key.toString('latin1'), { mod: kv.mod_revision, create: kv.create_revision, version: kv.version, lease: kv.lease });
  }

  /** A delete applied. */
  delete(key: Buffer): void {
    this.keys.delete(key.toString('latin1'));
  }

  /**
   * The keys to read at the applied revision, with their versions: the key written last, and the
   * leased key written last if that one has no lease; none while the prefix is empty. Taken
   * before the reads: changes applied while they are under way do not change them.
   */
  expected(): Witness[] {
    let last: { key: string; version: KeyVersion } | undefined;
    let leased: typeof last;
    for (const [key, version] of this.keys) {
      if (!last || Number(version.mod) > Number(last.version.mod)) last = { key, version };
      if (version.lease !== NO_LEASE && (!leased || Number(version.mod) > Number(leased.version.mod))) leased = { key, version };
    }
    if (!last) return [];
    const witnesses = leased && last.version.lease === NO_LEASE ? [last, leased] : [last];
    return witnesses.map(({ key, version }) => ({ key: Buffer.from(key, 'latin1'), version }));
  }
}

/** The lease of a key written without one, as etcd spells it. */
const NO_LEASE = '0';

/** One key and the version it has at the applied revision in the history followed. */
export interface Witness {
  /** As etcd has it: its bytes. */
  readonly key: Buffer;
  readonly version: KeyVersion;
}

/** Whether `read`, the witness's key as etcd has it at the applied revision, is that version (the same history). */
export function sameHistory(witness: Witness, read: IKeyValue | undefined): boolean {
  const { mod, create, version, lease } = witness.version;
  return !!read && read.mod_revision === mod && read.create_revision === create && read.version === version && read.lease === lease;
}
