import { ErrorCode, RpcError, isHandshakeRefusal, type Address, type Clock, type Logger, type Transport } from '@skein/core';
import { ClientStream } from '../client/client-stream.js';
import { credentialsError, isAuthRefusal, type Credentials } from '../client/credentials.js';
import type { ClientStreamOptions } from '../client/options.js';
import { connectingSlot, type MadeWith, type Slot } from './pool-slot.js';

/** What opening connections needs of their pool. */
export interface OpenerLink {
  readonly address: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The pool is closed: a connection up now is closed at once. */
  readonly closed: boolean;
  /** A connection answered its first ping (no longer counted in `connecting`): the pool's to use. */
  opened(slot: Slot, stream: ClientStream): void;
  /** A connect made with `made` failed, or its connection did not answer its first ping (no longer counted). */
  failed(err: Error, made: MadeWith): void;
  /** A connection closed: from the stream, synchronously, before its calls are failed. */
  lost(slot: Slot, err: Error | undefined): void;
}

/**
 * Opens a pool's connections: the connect, the first ping that proves one, and what each is
 * opened with (the stream options, the credentials as last renewed). Out of the pool because
 * no call's path comes here: a call asks for a connection at most (the pool's `connect`).
 */
export class ConnOpener {
  /** Connects under way, their first ping included. */
  connecting = 0;
  /** Counts `renew` calls: a connect begun before the last one renews once it is up (`renewIfStale`). */
  private epoch = 0;
  /** How many times `retarget` changed the address dialled: a refusal of a connect to an older one is outdated. */
  private targets = 0;
  /** New connections waiting for the answer to their first ping. */
  private readonly verifying = new Set<ClientStream>();
  private readonly attempts = new Set<Promise<void>>();
  /**
   * Each connect under way's own abort, all aborted when the pool closes (`abandon`). One each,
   * not one shared signal: each connect listens on its signal while it waits (the transport's
   * connect, the credentials), and past 10 listeners on one signal Node warns of a leak.
   */
  private readonly aborts = new Set<AbortController>();
  /** Why the pool closed (`abandon`): a connect begun after it is aborted at once. */
  private abandoned: Error | undefined;

  constructor(
    private streamOpts: Partial<ClientStreamOptions>,
    private readonly transport: Transport,
    private target: Address,
    private readonly link: OpenerLink,
  ) {}

  /** Connects begun from now on dial `target` (a FailoverPool member given again in another spelling). */
  retarget(target: Address): void {
    this.target = target;
    this.targets++;
  }

  /** Opens one more connection; the pool hears of it through `opened`, `failed` and `lost`. */
  open(): void {
    this.connecting++;
    const slot = connectingSlot(this.epoch, this.tlsGeneration(), this.targets);
    const { clock, logger } = this.link;
    const abort = new AbortController();
    if (this.abandoned) abort.abort(this.abandoned);
    else this.aborts.add(abort);
    const attempt = ClientStream.connect({
      ...this.streamOpts,
      transport: this.transport,
      address: this.target,
      clock,
      logger,
      onClose: (err) => this.link.lost(slot, err),
    }, abort.signal)
      .then(
        (stream) => this.verify(slot, stream),
        (err: Error) => this.failed(err, slot),
      )
      .catch((err: unknown) => logger.error({ address: this.link.address, err }, 'pool connect handling failed'));
    this.attempts.add(attempt);
    void attempt.finally(() => {
      this.attempts.delete(attempt);
      this.aborts.delete(abort);
    });
  }

  /** The connects under way: each settles once its outcome is handled (its connection closed, if the pool closed meanwhile). */
  get pending(): Promise<void>[] {
    return [...this.attempts];
  }

  /**
   * Credentials for the connections opened from now on: `credentials`, or the option's again (a
   * function gives a fresh value). The connects under way renew once up (`renewIfStale`). The
   * error when there is nothing to renew, or `credentials` are no credentials.
   */
  renew(credentials: Credentials | undefined): Error | undefined {
    if (this.streamOpts.credentials === undefined) {
      return new RpcError(ErrorCode.Unauthenticated, `no credentials on the pool for ${this.link.address}: nothing to renew`);
    }
    if (credentials !== undefined) {
      const bad = credentialsError(credentials, 'credentials');
      if (bad) return bad;
      this.streamOpts = { ...this.streamOpts, credentials };
    }
    this.epoch++;
    return undefined;
  }

  /**
   * Whether `refusal`, of a connect made with `made`, may not hold for a connect made now: the
   * transport's TLS options were reloaded since (they may be why: a key not its certificate's, a
   * client certificate the server refused), or the address dialled changed (`retarget`), or,
   * credentials refused, they were renewed since.
   * Read only while the pool has a refusal and no connection: two reads, no allocation.
   */
  outdated(made: MadeWith, refusal: RpcError): boolean {
    if (made.tlsGeneration !== this.tlsGeneration() || made.targets !== this.targets) return true;
    return made.epoch !== this.epoch && isAuthRefusal(refusal);
  }

  /** A connection that presented the credentials of before a `renew`: it presents the current ones. */
  renewIfStale(slot: Slot, stream: ClientStream): void {
    if (slot.epoch === this.epoch) return;
    stream.renewCredentials(this.streamOpts.credentials).catch((err: unknown) => {
      this.link.logger.debug({ address: this.link.address, err }, 'renewing the credentials of a new connection failed');
    });
  }

  /**
   * The pool closed: the connects under way are given up (a hanging TLS handshake or upgrade
   * would hold its close for up to `connectTimeoutMs`), and the connections still waiting for
   * their first ping, which carry no call yet, destroyed: nothing to let finish.
   */
  abandon(reason: string): void {
    this.abandoned ??= new Error(reason);
    for (const abort of this.aborts) abort.abort(this.abandoned);
    this.aborts.clear();
    for (const stream of this.verifying) stream.destroy(reason);
  }

  /**
   * A connect proves little: the kernel of a stopped (SIGSTOP) or hung server still completes
   * handshakes from its backlog. Only an answered ping makes a new connection usable, resets
   * the backoff and makes the pool ready; one unanswered for `stream.keepaliveTimeoutMs` closes
   * it, and counts as a failed connect.
   */
  private async verify(slot: Slot, stream: ClientStream): Promise<void> {
    if (this.link.closed) {
      this.connecting--;
      return stream.close();
    }
    this.verifying.add(stream);
    try {
      await stream.ping();
    } catch (err) {
      return this.failed(refusalBehind(err as Error), slot);
    } finally {
      this.verifying.delete(stream);
    }
    return this.proven(slot, stream);
  }

  private proven(slot: Slot, stream: ClientStream): Promise<void> | void {
    if (this.link.closed) {
      this.connecting--;
      return stream.close();
    }
    if (slot.dead || stream.state !== 'open') return this.failed(new Error(`connection to ${this.link.address} closed at once`), slot);
    this.connecting--;
    this.link.opened(slot, stream);
  }

  private failed(err: Error, slot: Slot): void {
    this.connecting--;
    this.link.failed(err, slot);
  }

  /** The transport's TLS generation (`Transport.tlsGeneration`); 0 for one that does not count its reloads. */
  private tlsGeneration(): number {
    return this.transport.tlsGeneration?.() ?? 0;
  }
}

/**
 * What a first ping's failure says of the connect. Under TLS 1.3 an mTLS server refuses a client
 * certificate after the client's handshake is done, so the refusal (Unauthenticated) arrives as
 * the cause of the ping's IO. It is the connect's verdict, as it is under TLS 1.2 (inside the
 * handshake): the pool fails calls with it at once, not after their timeoutMs, backoff after
 * backoff, with no word of the certificate. Only a refusal the server said (an alert: core's
 * isHandshakeRefusal), not a close before its first byte, which is only a guess at one: a
 * TLS-terminating proxy whose backend is down closes so too, and a retry heals that.
 */
function refusalBehind(err: Error): Error {
  return isHandshakeRefusal(err.cause) ? (err.cause as Error) : err;
}
