import type { IKeyValue } from 'etcd3';

/** A key's version as etcd numbers it: the revisions of its creation and of its last write, and its write count. */
export interface KeyVersion {
  readonly mod: string;
  readonly create: string;
  readonly version: string;
}

/**
 * The version of every key under a prefix, as of the revision a PrefixWatch has applied, kept so
 * that a resume can ask etcd whether it still has the same history. A revision alone cannot tell:
 * etcd started again on an empty data dir (or restored from an older snapshot) that was written to
 * before the watch came back can be past the revision the watch resumes from, and would then
 * accept the resume, and the watch would miss for good every change the new history made below
 * it (a server registered then never seen, one gone never leaving). In the same history the key
 * written last, read at that revision, has exactly the version kept here; in another history it
 * is absent, or was written at other revisions.
 */
export class HistoryWitness {
  private readonly keys = new Map<string, KeyVersion>();

  /** The whole prefix as read (`kvs`, at the revision the watch starts after). */
  reset(kvs: readonly IKeyValue[]): void {
    this.keys.clear();
    for (const kv of kvs) this.put(kv);
  }

  /** A write applied. */
  put(kv: IKeyValue): void {
    this.keys.set(kv.key.toString(), { mod: kv.mod_revision, create: kv.create_revision, version: kv.version });
  }

  /** A delete applied. */
  delete(key: string): void {
    this.keys.delete(key);
  }

  /**
   * The key written last and its version, to read at the applied revision; none while the prefix
   * is empty. Taken before the read: changes applied while it is under way do not change it.
   */
  expected(): Witness | undefined {
    let last: Witness | undefined;
    for (const [key, version] of this.keys) if (!last || Number(version.mod) > Number(last.version.mod)) last = { key, version };
    return last;
  }
}

/** One key and the version it has at the applied revision in the history followed. */
export interface Witness {
  readonly key: string;
  readonly version: KeyVersion;
}

/** Whether `read`, the witness's key as etcd has it at the applied revision, is that version (the same history). */
export function sameHistory(witness: Witness, read: IKeyValue | undefined): boolean {
  const { mod, create, version } = witness.version;
  return !!read && read.mod_revision === mod && read.create_revision === create && read.version === version;
}
