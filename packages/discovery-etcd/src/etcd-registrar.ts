import { ErrorCode, RpcError, guardedLogger, invalidArgument, refuseRenamed, silentLogger, systemClock, timerPeriod, type Clock, type Logger, type OptionalFields } from '@skein/core';
import { Backoff, discoveryEntry, type BackoffOptions, type DiscoveryEntry, type DiscoveryStatus, type EntrySpec, type Registrar, type Registration } from '@skein/stream';
import type { Etcd3, Lease } from 'etcd3';
import { withinAttempts, type CallOptions } from './attempt-deadline.js';
import { clientClosed, onClientClose } from './client-closed.js';
import { checkedPrefix, encodeValue, keyOf } from './etcd-entry.js';
import { KeyGuard } from './key-guard.js';
import { KeyRelease } from './key-release.js';
import { LeaseKeeper } from './lease-keeper.js';
import { failureReason } from './failure-reason.js';
import { reason } from './reason.js';
import { CHECK_EVERY_MS } from './watch-check.js';

export interface EtcdRegistrarOptions {
  /** Your etcd3 client; closing it is yours (after closing the registrations). */
  client: Etcd3;
  /** The key prefix, as for EtcdDiscovery. Default `skein/servers`. */
  prefix?: string | undefined;
  /**
   * The lease's time to live, in whole seconds: how long a server that died without closing
   * stays listed. Default 10. etcd raises values below its minimum (1.5 × its election timeout).
   */
  ttlSeconds?: number | undefined;
  logger?: Logger | undefined;
  clock?: Clock | undefined;
  /**
   * Delays between attempts to write the entry again after its lease was lost, to open its
   * keepalive stream again, and to read and watch its key again, as a ConnPool's `backoff`.
   * Default: 100 ms doubling to 5 s.
   */
  backoff?: OptionalFields<BackoffOptions> | undefined;
  /**
   * How often a registration reads its own key (one bounded read, keys only), in ms: while it
   * watches the key, to see it taken or deleted although that watch went silent (its stream on a
   * stalled member); while it waits for a key another registration holds, to see it gone. Default
   * 3000, as EtcdDiscovery's; above 0, at most 2^31-1.
   */
  checkEveryMs?: number | undefined;
}

/** The server side: writes each entry under a lease that is kept alive until `close()`. */
export class EtcdRegistrar implements Registrar {
  private readonly prefix: string;
  private readonly ttl: number;
  private readonly checkEveryMs: number;

  constructor(private readonly opts: EtcdRegistrarOptions) {
    if (!opts?.client) throw invalidArgument('EtcdRegistrar needs an etcd3 client');
    this.prefix = checkedPrefix(opts.prefix);
    const ttl = opts.ttlSeconds ?? 10;
    if (!(Number.isInteger(ttl) && ttl >= 1)) throw invalidArgument(`ttlSeconds must be a whole number of seconds ≥ 1, got ${ttl}`);
    this.ttl = ttl;
    // Renamed to match ConnPool's: a plain-JS caller's old name must not be ignored without a word.
    refuseRenamed(opts, 'retry', 'backoff', 'EtcdRegistrar');
    new Backoff(opts.backoff); // checked now, not at the first register
    this.checkEveryMs = timerPeriod(opts.checkEveryMs ?? CHECK_EVERY_MS, 'EtcdRegistrar: checkEveryMs');
  }

  async register(spec: EntrySpec): Promise<Registration> {
    const entry = discoveryEntry(spec);
    const key = keyOf(this.prefix, entry);
    checkedSize(key, encodeValue(entry));
    const { client, logger = silentLogger, clock = systemClock, backoff } = this.opts;
    // Its lines come on the way to a registration's state changes: one it cannot write must not stop those.
    const reg = new EtcdRegistration(entry, { client, key, ttl: this.ttl, checkEveryMs: this.checkEveryMs, logger: guardedLogger(logger), clock, backoffOptions: backoff, backoff: new Backoff(backoff) });
    await reg.start();
    return reg;
  }
}

/**
 * The most an entry's key and value may take together, in bytes. etcd's gRPC server refuses a
 * request past its `--max-request-bytes` + 512 KiB as RESOURCE_EXHAUSTED, which etcd3 takes for a
 * failure of the host: it sends the write three times and opens its circuit breaker, failing every
 * call of the client (other registrations' writes and reads included) for seconds, and a caller
 * retrying the `Unreachable` it got would do that again each time. Below this bound a put, or a
 * rewrite's transaction (the key twice), never comes near 512 KiB, whatever etcd's settings.
 */
const MAX_ENTRY_BYTES = 128 * 1024;

/** Throws InvalidArgument for an entry too large to write (see MAX_ENTRY_BYTES). */
function checkedSize(key: string, value: string): void {
  const bytes = Buffer.byteLength(key) + Buffer.byteLength(value);
  if (bytes > MAX_ENTRY_BYTES) throw invalidArgument(`the entry ${key} is too large to register: ${bytes} bytes of key and value, at most ${MAX_ENTRY_BYTES}`);
}

/** etcd refused the write as larger than its `--max-request-bytes`: the entry, not etcd, is at fault. */
function tooLargeForEtcd(err: unknown): boolean {
  return reason(err).includes('request is too large');
}

/**
 * The error of a registration whose etcd3 client its application closed: `Closed`, and never worth
 * retrying (every call through that client fails so), unlike an outage's `Unreachable`.
 */
function closedError(key: string, cause?: unknown): RpcError {
  return new RpcError(ErrorCode.Closed, `registering ${key} in etcd: the etcd3 client was closed (close registrations before it)`, { retry: 'never', cause });
}

/** Why a rewrite after a lost lease did not write: the key is there, under someone else's lease. */
const HELD = 'another registration holds the entry: waiting for it to go';

/** A rewrite found the key held by another lease, as of `revision`. */
class KeyHeld extends Error {
  constructor(readonly revision: string) {
    super(HELD);
  }
}

/** The lease of a key written without one, as etcd spells it. */
const NO_LEASE = '0';

/** Why a live registration went stale: a newer one of the same id wrote the key. */
const TAKEN = 'another registration of this id took the entry';

interface RegistrationParts {
  client: Etcd3;
  key: string;
  ttl: number;
  /** Between reads of the key while it is watched or waited for (the registrar's `checkEveryMs`). */
  checkEveryMs: number;
  logger: Logger;
  clock: Clock;
  /** For the KeyGuard's and the LeaseKeeper's own backoffs. */
  backoffOptions: Partial<BackoffOptions> | undefined;
  backoff: Backoff;
}

/**
 * One entry in etcd. Its key lives as long as its lease, which a LeaseKeeper keeps alive (a
 * keepalive every third of the TTL; after a failure, the next after the backoff). If the lease
 * is lost (etcd said it expired or was revoked, or was out of reach for twice the TTL), the
 * entry is written again under a new lease, until `close()`. If the key
 * is taken by another registration of the same id while the lease lives, the newer one keeps it:
 * this one gives its lease up and waits, `stale`, until the key is gone (see KeyGuard, which also
 * reads the key every `checkEveryMs`: its watch may be silent): it watches the key for its delete
 * and writes it then (see KeyRelease), polling when that watch broke, and looking at the key every
 * `checkEveryMs` meanwhile in case it died without a word.
 *
 * Every etcd call it makes waits at most one TTL, each attempt on one member a quarter of it
 * (`withinTtl`): a silent etcd, or one silent member of several (stopped,
 * partitioned without a reset) would otherwise hold a write, and with it `close()`, for good.
 */
class EtcdRegistration implements Registration {
  private lease: Lease | undefined;
  private current: DiscoveryStatus;
  private writing: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closing: Promise<void> | undefined;
  /** The lease the entry was last written under, kept after a loss to recognise the key as ours. */
  private leaseId: string | undefined;
  /** Watches the key while it is ours under `lease`. */
  private guard: KeyGuard | undefined;
  /** Keeps `lease` alive. */
  private keeper: LeaseKeeper | undefined;
  /** Why the guard cannot see the key now: not `live` meanwhile, whatever the keepalives say. */
  private blind: string | undefined;
  /** Watches the key for its delete while another registration holds it. */
  private release: KeyRelease | undefined;
  /** The last rewrite found the key held by another registration (said once per stretch). */
  private held = false;
  private readonly value: string;
  /** Stops listening for the client's close (see clientClosedUnder). */
  private unhook: () => void = () => undefined;

  constructor(
    readonly entry: DiscoveryEntry,
    private readonly p: RegistrationParts,
  ) {
    this.value = encodeValue(entry);
    this.current = { state: 'stale', since: p.clock.now(), reason: 'not written yet' };
  }

  status(): DiscoveryStatus {
    return this.current;
  }

  async start(): Promise<void> {
    this.unhook = onClientClose(this.p.client, () => this.clientClosedUnder());
    try {
      await this.write();
    } catch (err) {
      this.unhook();
      // Not outages: writing it again would be refused again, or fail as closed again.
      if (clientClosed(err)) throw closedError(this.p.key, err);
      if (tooLargeForEtcd(err)) throw new RpcError(ErrorCode.InvalidArgument, `registering ${this.p.key} in etcd failed: the entry is too large for this etcd: ${reason(err)}`, { cause: err });
      throw new RpcError(ErrorCode.Unreachable, `registering ${this.p.key} in etcd failed: ${failureReason(err, this.p.client)}`, { retry: 'safe' });
    }
    // The client was closed while the first write was under way, which landed: ended already.
    if (this.closing) throw closedError(this.p.key);
  }

  /** Revokes the lease, which deletes the key at once: clients stop routing before the server goes. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.unhook();
    // A silent etcd would hold close() and the server's shutdown for as long as it is silent;
    // past one TTL there is nothing to gain: the lease is no longer kept alive (revoke stops that
    // first), so the entry goes by itself when etcd answers again.
    const bound = this.withinTtl();
    clearTimeout(this.timer);
    this.release?.close();
    // A write under way started before this close, with a bound of its own: it ends before ours.
    await this.writing?.catch(() => undefined);
    const lease = this.lease;
    this.lease = undefined;
    this.keeper?.close();
    this.guard?.close();
    this.current = { state: 'closed', since: this.p.clock.now() };
    if (!lease) return;
    try {
      await lease.revoke(bound);
    } catch (err) {
      lease.release();
      this.p.logger.warn({ key: this.p.key, ttlSeconds: this.p.ttl, reason: reason(err) }, 'could not revoke the lease: the entry stays listed until it expires');
    }
  }

  /**
   * The application closed the etcd3 client under this registration: nothing can be written,
   * renewed, watched or revoked through it again, so it ends here, `closed`, with one warn line,
   * instead of trying again for good (and holding the process on its timers and on the keepalive
   * stream, which outlives the client's close). The lease is no longer kept alive: etcd deletes
   * the entry when it expires, within the TTL. `close()` after it has nothing left to do.
   */
  private clientClosedUnder(): void {
    if (this.closing) return;
    this.closing = this.end();
    const err = closedError(this.p.key);
    this.p.logger.warn({ key: this.p.key, ttlSeconds: this.p.ttl, reason: err.message }, 'registration ended: its etcd3 client was closed');
  }

  private async end(): Promise<void> {
    this.unhook();
    clearTimeout(this.timer);
    this.release?.close();
    this.current = { state: 'closed', since: this.p.clock.now() };
    // A write under way went out before the close and may still land (calls in flight finish):
    // what it starts is stopped once it settles.
    await this.writing?.catch(() => undefined);
    const lease = this.lease;
    this.lease = undefined;
    this.keeper?.close();
    this.guard?.close();
    lease?.release();
  }

  /** Grants a lease and writes the key under it; after a loss, only if no one else wrote it since. */
  private write(again = false): Promise<void> {
    const w = this.writeOnce(again);
    this.writing = w;
    void w.finally(() => this.writing === w && (this.writing = undefined)).catch(() => undefined);
    return w;
  }

  /**
   * Call options that give an etcd call one TTL from now, the bound of every wait on etcd here;
   * each attempt of it, on one member, a quarter of that (see withinAttempts).
   */
  private withinTtl(): CallOptions {
    const ms = this.p.ttl * 1000;
    return withinAttempts(this.p.client, Date.now() + ms, ms);
  }

  private async writeOnce(again: boolean): Promise<void> {
    const { client, key } = this.p;
    // One bound for the attempt: the grant, and the put or the transactions that wait for it.
    const bound = this.withinTtl();
    // Kept alive by a LeaseKeeper of ours, not etcd3's autoKeepAlive (why: LeaseKeeper).
    const lease = client.lease(this.p.ttl, { autoKeepAlive: false, ...bound });
    let written = false;
    // 'lost' also fires when the first grant fails; the failed put reports that one.
    lease.on('lost', (err) => written && lease === this.lease && this.lost(err));
    let revision: string;
    try {
      revision = again ? await this.rewrite(lease, bound) : (await this.put(lease, bound)).header.revision;
    } catch (err) {
      void lease.revoke().catch(() => undefined);
      throw err;
    }
    const id = await lease.grant(); // granted already: the put waited for it
    written = true;
    this.lease = lease;
    this.leaseId = id;
    this.blind = undefined;
    this.keeper = new LeaseKeeper({
      client,
      leaseId: id,
      ttlSeconds: this.p.ttl,
      backoff: new Backoff(this.p.backoffOptions),
      events: {
        renewed: () => lease === this.lease && this.live(),
        failed: (why) => lease === this.lease && this.stale(`keepalive failed: ${why}`),
        lost: (err) => lease === this.lease && this.lost(err),
      },
    });
    this.keeper.start();
    this.guard = new KeyGuard({
      client,
      key,
      leaseId: id,
      backoff: new Backoff(this.p.backoffOptions),
      bound: () => this.withinTtl(),
      checkEveryMs: this.p.checkEveryMs,
      events: {
        lost: (holder, at) => this.displaced(lease, holder, at),
        blind: (why) => lease === this.lease && this.unseen(why),
        sighted: () => lease === this.lease && this.seen(),
      },
    });
    this.guard.start(revision);
    this.live();
  }

  /**
   * Writes the entry under `lease` once it is granted. Through the client, not `lease.put()`: that
   * one's calls leave every call option out (etcd3's lease wrapper drops them), so its write had no
   * deadline, and one sent to a stalled member waited for good, holding `register()` with it.
   */
  private async put(lease: Lease, bound: CallOptions) {
    return this.p.client.put(this.p.key).value(this.value).lease(await lease.grant()).options(bound);
  }

  /**
   * Writes the entry again after a loss, only if the key is gone, still under the lease we gave
   * up (etcd kept it: a restarted etcd renews every lease), or under no lease (written by hand or
   * by a tool: no registration's). A key under any other lease is a newer registration's of this
   * id (the server restarted): taking it would hand it to our lease, and our close() would then
   * delete the entry of a server that is up. Resolves to the revision written at; throws HELD if
   * the key is someone else's.
   */
  private async rewrite(lease: Lease, bound: CallOptions): Promise<string> {
    const { client, key } = this.p;
    const put = () => lease.put(key).value(this.value);
    const absent = await client.if(key, 'Version', '==', 0).then(put()).options(bound).commit();
    if (absent.succeeded) return absent.header.revision;
    // The new lease first: etcd3 sends a transaction again on another member when an attempt timed
    // out (see withinAttempts), and one that was applied meanwhile left the key under it.
    for (const under of [await lease.grant(), this.leaseId, NO_LEASE]) {
      if (under === undefined) continue;
      const res = await client.if(key, 'Lease', '==', under).then(put()).options(bound).commit();
      if (res.succeeded) return res.header.revision;
    }
    // Held as of the first transaction: a later one may have failed because the key was deleted
    // since, and a wait from its revision would miss that delete.
    throw new KeyHeld(absent.header.revision);
  }

  /**
   * The key is no longer ours while our lease lives (KeyGuard). Taken: the newer registration
   * keeps it, and this one does not write it back (two registrations would take it from each
   * other for good); it waits until the key is gone, like a rewrite that finds it held. Deleted:
   * written again, as after a lost lease. Either way the lease holds nothing now: it is given up.
   */
  private displaced(lease: Lease, holder: string | undefined, revision: string): void {
    if (lease !== this.lease || this.closing) return;
    this.lease = undefined;
    this.keeper?.close();
    this.guard = undefined;
    this.blind = undefined;
    void lease.revoke(this.withinTtl()).catch(() => undefined);
    // A key under no lease is no registration's (each writes under one): written back, as a deleted one.
    this.held = holder !== undefined && holder !== NO_LEASE;
    const why = this.held ? TAKEN : holder === NO_LEASE ? 'the entry was written without a lease' : 'the entry was deleted';
    this.stale(why);
    this.p.logger.warn({ key: this.p.key, holder }, this.held ? `${why}: waiting for it to go` : `${why}: writing it again`);
    if (this.held) this.waitForRelease(revision);
    else this.again();
  }

  /** The guard lost sight of the key: the registration cannot vouch for it until it sees it again. */
  private unseen(why: string): void {
    if (this.closing) return;
    const first = this.blind === undefined;
    this.blind = `cannot watch its key: ${why}`;
    this.live(); // stale, with this reason
    if (first) this.p.logger.warn({ key: this.p.key, reason: why }, 'registration cannot watch its key: stale until it can');
  }

  private seen(): void {
    if (this.closing || this.blind === undefined) return;
    this.blind = undefined;
    this.p.logger.info({ key: this.p.key }, 'registration watches its key again');
    this.live();
  }

  /** Another registration holds the key as of `revision`: write it once it is deleted. */
  private waitForRelease(revision: string): void {
    this.release?.close();
    this.p.logger.debug({ key: this.p.key, revision }, 'waiting for the entry to be deleted');
    const release = new KeyRelease({
      client: this.p.client,
      key: this.p.key,
      bound: () => this.withinTtl(),
      checkEveryMs: this.p.checkEveryMs,
      onFreed: (seen) => {
        if (this.release !== release || this.closing) return;
        this.release = undefined;
        // Seen deleted: at once (the txn still refuses a key someone took meanwhile). Not seen (the
        // watch broke): one poll after the backoff, which bounds how often a failing watch is redone.
        if (seen) this.attempt();
        else this.again();
      },
    });
    this.release = release;
    release.start(revision);
  }

  private lost(err: unknown): void {
    this.lease = undefined;
    this.keeper?.close();
    this.guard?.close();
    this.guard = undefined;
    this.blind = undefined;
    if (this.closing) return;
    const why = failureReason(err, this.p.client);
    this.stale(`lease lost: ${why}`);
    this.p.logger.warn({ key: this.p.key, reason: why }, 'registration lost its lease: writing it again');
    this.again();
  }

  /** Writes the entry again after a jittered delay. */
  private again(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.attempt(), this.p.backoff.next());
  }

  private attempt(): void {
    if (this.closing) return;
    this.p.logger.debug({ key: this.p.key }, 'writing the entry again');
    this.write(true).then(
      () => {
        this.held = false;
        this.p.backoff.reset();
        this.p.logger.info({ key: this.p.key }, 'registered again');
      },
      (err: unknown) => {
        if (this.closing) return;
        // Closed by some way past the wrapper of its close (see onClientClose): over all the same.
        if (clientClosed(err)) return this.clientClosedUnder();
        const held = err instanceof KeyHeld;
        if (held && !this.held) this.p.logger.warn({ key: this.p.key }, HELD);
        this.held = held;
        this.stale(`writing the entry failed: ${failureReason(err, this.p.client)}`);
        if (held) this.waitForRelease(err.revision);
        else this.again();
      },
    );
  }

  private live(): void {
    if (this.closing) return;
    if (this.blind !== undefined) {
      // etcd answers, but the key is unseen: stale for that reason now, not for the last outage's.
      const since = this.current.state === 'stale' ? this.current.since : this.p.clock.now();
      this.current = { state: 'stale', since, reason: this.blind };
      return;
    }
    if (this.current.state === 'live') return;
    this.current = { state: 'live', since: this.p.clock.now() };
  }

  private stale(why: string): void {
    if (this.current.state !== 'live' || this.closing) return;
    this.current = { state: 'stale', since: this.p.clock.now(), reason: why };
  }
}
