import type { Etcd3, IKeyValue, Watcher } from 'etcd3';

/**
 * Watches a registration's own key while its lease lives, to learn when the key stops being
 * ours although the lease is kept alive: another registration of the same id wrote it (a server
 * started again before the old one went, or two servers given one id), or someone deleted it.
 * Without it the displaced registration would say `live` while clients route elsewhere.
 *
 * Says so once (`onLost`), then stops. The watch starts after the revision we wrote, so our own
 * write is not seen; a put under any other lease, or a delete, is a loss. etcd3 resumes a broken
 * watch from the revision of the response that answered the new watch, which can skip changes
 * not yet delivered: every (re)connection therefore reads the key once, and so does a watch that
 * etcd canceled (compacted), before watching again.
 */
export class KeyGuard {
  private watcher: Watcher | undefined;
  private done = false;

  constructor(
    private readonly client: Etcd3,
    private readonly key: string,
    /** The lease the key was written under, as etcd spells it (a decimal string). */
    private readonly leaseId: string,
    /** `holder`: the lease the key is under now, if it was taken rather than deleted. */
    private readonly onLost: (holder: string | undefined) => void,
  ) {}

  /** Watches every change after `revision`, the one our write made. */
  start(revision: string): void {
    if (this.done) return;
    const w = this.client.watch().key(this.key).startRevision(String(Number(revision) + 1)).watcher();
    this.watcher = w;
    w.on('put', (kv: IKeyValue) => this.changed(kv));
    w.on('delete', () => this.lost(undefined));
    w.on('connected', () => void this.check(false));
    w.on('error', () => void this.check(true));
  }

  close(): void {
    this.done = true;
    const w = this.watcher;
    this.watcher = undefined;
    void w?.cancel().catch(() => undefined);
  }

  private changed(kv: IKeyValue): void {
    if (kv.lease !== this.leaseId) this.lost(kv.lease);
  }

  /** Reads the key as it is now; `rewatch` after etcd canceled the watch. */
  private async check(rewatch: boolean): Promise<void> {
    let res;
    try {
      res = await this.client.kv.range({ key: Buffer.from(this.key), keys_only: true });
    } catch {
      // Unreachable: the next connection checks again. After a cancel there is no next one: the
      // guard stops rather than loop on a watch etcd keeps refusing (a role that may not read).
      return;
    }
    const kv = res.kvs[0];
    if (!kv) return this.lost(undefined);
    this.changed(kv);
    if (rewatch && !this.done) this.start(res.header.revision);
  }

  private lost(holder: string | undefined): void {
    if (this.done) return;
    this.close();
    this.onLost(holder);
  }
}
