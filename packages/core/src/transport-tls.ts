import type { CertificateExpiryWatch } from './certificate-expiry.js';
import { invalidArgument } from './rpc-error.js';
import { reloadedTransportTls, type TlsOptions } from './tls.js';

/** A TLS listener a transport opened: one that can change its certificate has `reloadTls`. */
export interface TlsListener {
  reloadTls?(tls: TlsOptions): Promise<void>;
  close(): Promise<void>;
}

/** What a transport's TLS differs in. */
export interface TransportTlsAdapter {
  /**
   * Loads `options`' certificate and key as a connect would, refusing a pair it cannot use
   * (InvalidArgument) before anything changes. Returning nothing, it is done (loaded, or nothing
   * to load): synchronous where it can be, see `apply`.
   */
  loadPair(options: TlsOptions): Promise<void> | void;
  /** Why a listener without `reloadTls` cannot take a reload: the InvalidArgument's words after `reloadTls: `. */
  cannotChange: string;
}

/**
 * A transport's TLS options, the listeners they serve and `Transport.reloadTls`, written once for
 * every transport. `holder.tls` is where the transport keeps its options: its connects and listens
 * read them there, a reload writes the merged ones back. Reloads run one after the other in call
 * order. Each listener's certificate is watched for its expiry from its listen to its close.
 */
export class TransportTls {
  private readonly listeners = new Map<TlsListener, CertificateExpiryWatch>();
  /** The reloads called so far, settled or not: the next one starts after them. */
  private reloads: Promise<void> = Promise.resolve();
  /** The reloads applied so far (`Transport.tlsGeneration`). */
  private applied = 0;

  constructor(
    private readonly holder: { tls: TlsOptions | undefined },
    private readonly adapter: TransportTlsAdapter,
  ) {}

  /** The options the transport holds now: as given, or as the last reload applied. */
  get options(): TlsOptions | undefined {
    return this.holder.tls;
  }

  /**
   * How many reloads have been applied (`Transport.tlsGeneration`): counted as the options a
   * later connect reads change, before the reload's promise resolves; a failed one counts nothing.
   */
  get generation(): number {
    return this.applied;
  }

  /**
   * A listener opened with `listenedWith` (the options when its listen was called), watched from
   * now on. A reload applied while it opened found no such listener: it is given the options
   * applied since, in turn with the reloads, before its listen resolves (it would serve the old
   * certificate, its expiry watched as the new one's). If it cannot take them, it is closed and
   * this rejects.
   */
  async listening(listener: TlsListener, expiry: CertificateExpiryWatch, listenedWith: TlsOptions): Promise<void> {
    this.listeners.set(listener, expiry);
    expiry.serving(listenedWith);
    if (this.holder.tls === undefined || this.holder.tls === listenedWith) return;
    try {
      await this.inTurn(() => this.catchUp(listener));
    } catch (err) {
      this.closed(listener);
      await listener.close();
      throw err;
    }
  }

  /** `listener` closes: its watch stops, and reloads no longer reach it. */
  closed(listener: TlsListener): void {
    this.listeners.get(listener)?.stop();
    this.listeners.delete(listener);
  }

  /**
   * Runs after the reloads called before it have settled, so that each merges over what the one
   * before applied (one that read the options while another was under way would drop its
   * fields); a failed one leaves the options as they were and holds up none after it.
   */
  reload(next: TlsOptions): Promise<void> {
    return this.inTurn(() => this.apply(next));
  }

  /** `step` once the reloads called before it have settled; the next waits for it, settled either way. */
  private inTurn(step: () => Promise<void>): Promise<void> {
    const run = this.reloads.then(step);
    this.reloads = run.catch(() => {});
    return run;
  }

  /** `listener` given the certificate, key and CA the transport holds now, unless it closed meanwhile. */
  private async catchUp(listener: TlsListener): Promise<void> {
    const expiry = this.listeners.get(listener);
    if (expiry === undefined || this.holder.tls === undefined) return;
    const options = this.holder.tls;
    await this.reloadListener(listener, options);
    expiry.serving(options);
  }

  /**
   * Whether every open listener loads a reload's pair itself before anything changes (each has
   * `reloadTls`, which refuses a pair it cannot load before it touches its socket): then a load
   * as a connect's first would load the same pair once more (on Bun and Deno a trial listener
   * of its own, beside each listener's).
   */
  private listenersLoadPair(): boolean {
    if (this.listeners.size === 0) return false;
    for (const l of this.listeners.keys()) if (!l.reloadTls) return false;
    return true;
  }

  private async apply(next: TlsOptions): Promise<void> {
    if (this.holder.tls === undefined) throw invalidArgument('reloadTls: this transport was made without tls options');
    // Checked before any listener changes, for connects always and for listeners while any is
    // open (a client-only transport rotates its client certificate or CA): a bad certificate
    // leaves every listener, and later connects, as they were. Loaded as a connect's too where
    // no listener loads it: with none nothing else would load a key that is not the
    // certificate's, and the next connect would fail instead.
    const reloaded = reloadedTransportTls(this.holder.tls, next, this.listeners.size > 0);
    const loading = this.listenersLoadPair() ? undefined : this.adapter.loadPair(reloaded);
    // A pair loaded at once goes on to the listeners in the same turn, nothing run between: a
    // listener that registered during an await here and cannot change its certificate (uWS)
    // would turn its listen's refusal (`listening`) into this reload's.
    if (loading !== undefined) await loading;
    // One rule for every listener, as `catchUp`'s: given the options the transport holds after
    // this reload, whole, what a listen opened now would serve; not `next`'s fields alone, which a
    // listener would merge over its own (one left serving a failed reload's certificate would keep it).
    for (const l of this.listeners.keys()) await this.reloadListener(l, reloaded);
    this.holder.tls = reloaded;
    this.applied++;
    for (const expiry of this.listeners.values()) expiry.serving(reloaded);
  }

  private async reloadListener(listener: TlsListener, tls: TlsOptions): Promise<void> {
    if (!listener.reloadTls) throw invalidArgument(`reloadTls: ${this.adapter.cannotChange}`);
    await listener.reloadTls(tls);
  }
}
