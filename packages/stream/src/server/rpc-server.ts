import {
  ErrorCode,
  RpcError,
  formatAddress,
  invalidArgument,
  parseAddress,
  RepeatedLine,
  type Address,
  type FrameConn,
  type FrameListener,
  type Ticker,
  type Transport,
} from '@skein/core';
import { requestFrameSpec } from '../wire/frame-specs.js';
import { ServerConn, type ServerConnOptions } from './connection.js';
import { ActionNames } from '../wire/action-names.js';
import { resolveServerOptions, type RpcServerOptions, type ServerSettings } from './server-options.js';
import { ConnCensus, type ConnRole } from './conn-census.js';
import { CAP_REFUSALS, type Cap } from './cap-refusals.js';
import { Probations } from './probations.js';
import { probationRefusals } from './probation-refusals.js';
import { remoteHost } from './remote-host.js';
import type { ConnInfo } from './request.js';
import type { BoundAddress } from './bound-address.js';
import { LazyAbort } from '../internals/lazy-abort.js';
import { pingUnanswered } from './server-keepalive.js';
import { writeStalled } from './write-stall.js';
import { TickedTime } from './ticked-time.js';
import { warnOfFrameCap } from './frame-cap-warning.js';
import { StreamBudgetRefusals } from './stream-budget-refusals.js';

export type { RpcServerOptions } from './server-options.js';
export type ServerState = 'running' | 'closing' | 'closed';

export interface RpcServerStats {
  state: ServerState;
  /** Listeners accepting connections. */
  listeners: number;
  /** Connections open now. */
  connections: number;
  /** Requests dispatched and not yet answered, over all connections. */
  inFlight: number;
  /**
   * Connections not being read now: a request came past their `maxInFlightPerConn` (it waits for
   * a slot), or their send buffer is full. A client whose window is at most the cap sends one
   * past it only after calls of its own timed out while still running here.
   */
  paused: number;
  /** Connections accepted since the server started. */
  accepted: number;
  /**
   * Connections refused at a connection cap (`maxConnections`, or a kind's, per address too) since the server
   * started: at accept, or at the hello for one let in on probation whose certificate did not
   * make it a peer (with no `authenticate`, nothing else could).
   */
  refused: number;
  /**
   * Streams refused unrun (Overloaded, safe to retry) since the server started because their
   * window did not fit their connection's `streamBudgetBytes` beside the windows of its open
   * streams whose handlers read items (docs/hardening.md).
   */
  streamsRefused: number;
  /** Open connections that are clients (not admitted as peers), including those on probation (pending their certificate or credentials). */
  clients: number;
  /** Open connections admitted as peers (`peers.admit`). */
  peers: number;
}

/** The warn line of each cap that refuses connections (once per stretch of refusals, then a count per window), and the cap's value. */
const REFUSAL_LINES: Record<Cap, { msg: string; limit(s: ServerSettings): number }> = {
  maxConnections: { msg: 'connection limit reached: refusing new connections', limit: (s) => s.maxConnections },
  'clients.maxConnections': { msg: 'connection limit reached (clients.maxConnections): refusing new clients', limit: (s) => s.kinds.client.maxConnections },
  'peers.maxConnections': { msg: 'connection limit reached (peers.maxConnections): refusing new peers', limit: (s) => s.kinds.peer.maxConnections },
  'clients.maxConnectionsPerAddress': { msg: 'connection limit reached (clients.maxConnectionsPerAddress): refusing new clients from this address', limit: (s) => s.kinds.client.maxConnectionsPerAddress },
  'peers.maxConnectionsPerAddress': { msg: 'connection limit reached (peers.maxConnectionsPerAddress): refusing new peers from this address', limit: (s) => s.kinds.peer.maxConnectionsPerAddress },
};

/** Each cap's refusal line, bounded by time: connections that churn at a cap re-armed a per-run line once per connection accepted. */
function refusalLines(s: ServerSettings): Record<Cap, RepeatedLine> {
  const line = (cap: Cap) =>
    new RepeatedLine(s.clock, (n) => s.logger.warn({ cap, [cap]: REFUSAL_LINES[cap].limit(s), refused: n }, `connection limit reached${cap === 'maxConnections' ? '' : ` (${cap})`}: ${n === 1 ? '1 more connection' : `${n} more connections`} refused since the last line`));
  // One per cap REFUSAL_LINES names: a cap added there has its line.
  return Object.fromEntries((Object.keys(REFUSAL_LINES) as Cap[]).map((cap) => [cap, line(cap)])) as Record<Cap, RepeatedLine>;
}

/**
 * Accepts connections on any number of listeners (TCP, Unix, WebSocket...) and hands every
 * request to one Dispatch.
 */
export class RpcServer {
  /** Action names its connections decoded, shared by them all (ServerConnOptions.actionNames). */
  private readonly actionNames = new ActionNames();
  private readonly settings: ServerSettings;
  private readonly listeners = new Set<FrameListener>();
  /** Listens under way: `close()` waits for them, and each closes its own listener if it lost the race. */
  private readonly opening = new Set<Promise<unknown>>();
  private readonly conns = new Set<ServerConn>();
  private ticker: Ticker | undefined;
  private nextConnId = 1;
  /** Connections refused since "accepting connections again" was last said. */
  private refused = 0;
  private refusedTotal = 0;
  private readonly refusalLines: Record<Cap, RepeatedLine>;
  private _state: ServerState = 'running';
  private closing: Promise<void> | undefined;
  private allClosed: (() => void) | undefined;
  /** Handlers' `conn.draining`: one signal for the server, made only if a handler reads it. */
  private readonly drainSignal = new LazyAbort(true);
  /** Connections of each kind, and who gets in at each kind's cap. */
  private readonly census: ConnCensus;
  /** Streams refused for their connection's `streamBudgetBytes`: counted, and said per kind. */
  private readonly streamRefusals: StreamBudgetRefusals;
  /** The bound on each connection's probation (past the clients' cap until it shows it is a peer). */
  private readonly probations: Probations<ServerConn>;
  /**
   * The time the tick's verdicts (idle, read timeout, keepalive, write stall) count in: a stalled event loop
   * delays them rather than bringing them early, for a frame waiting unread in a socket.
   */
  private readonly tickedTime: TickedTime;
  /** A kind has a per-address cap: only then is a connection's address read and counted (`addressOf`). */
  private readonly perAddress: boolean;

  constructor(opts: RpcServerOptions) {
    this.settings = resolveServerOptions(opts);
    this.tickedTime = new TickedTime(this.settings.tickMs);
    this.census = new ConnCensus(this.settings.kinds, this.settings.logger, (address) => this.displace(address), this.settings.clock);
    this.streamRefusals = new StreamBudgetRefusals(this.settings.kinds, this.settings.logger, this.settings.clock);
    const { client, peer } = this.settings.kinds;
    this.perAddress = client.maxConnectionsPerAddress !== Infinity || peer.maxConnectionsPerAddress !== Infinity;
    this.refusalLines = refusalLines(this.settings);
    this.probations = new Probations(this.settings.clock, this.settings.probationMs);
  }

  /**
   * The open connections, for calls the server starts itself: `conn.caller` calls a connection
   * that serves (a peer's services, a client behind NAT), `conn.kind` tells peers from clients.
   */
  openConnections(): ConnInfo[] {
    return [...this.conns].map((c) => c.info);
  }

  get state(): ServerState {
    return this._state;
  }

  /** Aborts when `close()` begins: what handlers read as `req.conn.draining`, for code beside them (a feed's source). */
  get draining(): AbortSignal {
    return this.drainSignal.signal;
  }

  /** Open connections. */
  get connections(): number {
    return this.conns.size;
  }

  /** What the server holds now and has seen since it started, for metrics (`prometheusText` in @skein/otel reads it). */
  stats(): RpcServerStats {
    let inFlight = 0;
    let paused = 0;
    for (const c of this.conns) {
      inFlight += c.inFlight;
      if (c.paused) paused++;
    }
    // Connection ids count up from 1, one per connection accepted.
    const { clients, peers, probation } = this.census;
    return { state: this._state, listeners: this.listeners.size, connections: this.conns.size, inFlight, paused, accepted: this.nextConnId - 1, refused: this.refusedTotal, streamsRefused: this.streamRefusals.total, clients: clients + probation, peers };
  }

  /**
   * Starts accepting on `address` through `transport`; resolves with the bound address, typed
   * by the kind asked for where the argument's type tells it (`BoundAddress`: a literal
   * `'127.0.0.1:0'` resolves with a host and port, `'unix:/tmp/s'` with a path). A `close()`
   * that begins meanwhile wins: the listener is closed before `close()` resolves, and this
   * rejects with Closed.
   */
  listen<const A extends string | Address>(transport: Transport, address: A): Promise<BoundAddress<A>> {
    if (this._state !== 'running') return Promise.reject(invalidArgument('server is closing'));
    // Every transport binds to the kind asked for (contract: FrameListener.address).
    const listening = this.open(transport, address) as Promise<BoundAddress<A>>;
    const done = (): void => void this.opening.delete(settled);
    const settled: Promise<void> = listening.then(done, done);
    this.opening.add(settled);
    return listening;
  }

  /**
   * Stops accepting and refuses new requests and streams at once (Closed, unrun, safe to send
   * elsewhere; no new reverse call goes either), lets in-flight requests and open streams finish
   * (up to `closeWaitMs`, the listeners' close included), then closes every connection. A
   * connection whose client already ended its side is not waited for: a Skein client ends its
   * side only when it awaits nothing or is destroyed, so nobody reads its answers; its handlers'
   * signals fire and what they answer is dropped.
   * Resolves when no listener, connection or timer of the server is left.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async open(transport: Transport, address: string | Address): Promise<Address> {
    const { kinds, clock, tickMs, logger, listenLogger } = this.settings;
    const shared = this.connOptions(transport.name);
    // Cut at the wider kind's limits until a connection is given its own kind's, before it is bound
    // (ServerConn.applyRole): only a transport without FrameConn.setFrameSpec reads by these.
    const listener = await transport.listen(parseAddress(address), requestFrameSpec(kinds.listenerLimits), (conn) => this.accept(shared, conn), listenLogger && { logger: listenLogger });
    if (this._state !== 'running') {
      await listener.close();
      throw new RpcError(ErrorCode.Closed, `server closed while it began listening on ${formatAddress(listener.address)}`);
    }
    this.listeners.add(listener);
    this.ticker ??= clock.every(tickMs, () => this.tick());
    // The transport's name is the same with TLS or without: the listener says which.
    const tls = listener.tls ?? listener.address.tls === true;
    logger.info({ address: listener.address, transport: transport.name, tls }, tls ? 'listening (TLS)' : 'listening');
    warnOfFrameCap(kinds, listener, transport.name, logger);
    return listener.address;
  }

  /** What every connection of a listener shares: one object, not one per connection. */
  private connOptions(transport: string): ServerConnOptions {
    const { dispatch, logger, maxInFlightPerConn, clock, auth, reverse, violations } = this.settings;
    return {
      transport,
      dispatch,
      logger,
      maxInFlight: maxInFlightPerConn,
      clock,
      auth,
      violations,
      reverse,
      draining: this.drainSignal,
      actionNames: this.actionNames,
      onClosed: (c) => this.forget(c),
      onStreamBudgetRefused: (c) => this.streamRefusals.refused(c.role?.limits.kind ?? 'client', c.conn.remote),
      onCredentialsAccepted: (c) => this.promote(c),
      // Told apart by identity only when peers are: the hook costs a server without `peers` nothing.
      ...(this.settings.kinds.admit && { onGreeted: (c: ServerConn, credentialsToCome: boolean) => this.identified(c, credentialsToCome), peerMaxInFlight: this.settings.kinds.peer.maxInFlightPerConn, peerLimits: this.settings.kinds.peer.limits }),
    };
  }

  private accept(shared: ServerConnOptions, conn: FrameConn): void {
    if (this._state === 'closed') return conn.close();
    const full = this.conns.size >= this.settings.maxConnections;
    // At the server's cap, only a peer the server knows may come in, in the place of a connection
    // on probation (ConnCensus): with none on probation, a flood costs an accept and a close each.
    if (full && this.census.probation === 0) return this.refuse(conn, 'maxConnections');
    // Asked only when peers are told apart: a server without `peers` builds nothing per connection here.
    const candidate = this.settings.kinds.admit && { remote: conn.remote, transport: shared.transport, identity: conn.identity };
    // Only a connection that may still show it is a peer waits past the clients' cap: one with
    // credentials to come, or a certificate (an mTLS listener's, before its handshake).
    const mayProve = this.settings.auth !== undefined || conn.identityPending === true;
    const role = this.census.admit(candidate, full, mayProve, this.addressOf(conn));
    if (typeof role === 'string') return this.refuse(conn, role);
    // Once the refusals' stretch is over (a window with none): not once per connection that churns at a cap.
    if (this.refused > 0 && !this.refusing()) {
      this.settings.logger.info({ refused: this.refused }, 'accepting connections again');
      this.refused = 0;
    }
    const sc = new ServerConn(conn, shared, this.nextConnId++);
    sc.applyRole(role);
    if (role.probation) this.probations.begin(sc, () => sc.probationOver());
    sc.lastFrameAt = this.tickedTime.now;
    this.conns.add(sc);
    conn.bind(sc);
    // Accepted while the listener closes (a restart's successor shares the socket): the client
    // may already be sending, so its requests are refused with Closed rather than cut off.
    if (this._state === 'closing') sc.startDrain(true);
  }

  /**
   * At `cap`: closed before anything is read, so that a flood of connections costs an accept,
   * one write of a frame made once (CAP_REFUSALS) and a close each. The frame answers the hello a
   * Skein client sends first with why, so that its calls on the connection fail Overloaded,
   * unrun (safe to send elsewhere), not IO "may have run". Over TLS it cannot go out before the
   * handshake, which is not waited for: the transport drops it with the connection, closed as
   * before. The warn line names the option that refused, so that the one to raise is plain.
   * `close` false: counted and said only, for a connection that answers why and leaves by itself
   * (one refused at its hello).
   */
  private refuse(conn: FrameConn, cap: Cap, close = true): void {
    this.refusedTotal++;
    this.refused++;
    if (this.refusalLines[cap].hit()) {
      const line = REFUSAL_LINES[cap];
      this.settings.logger.warn({ remote: conn.remote, cap, [cap]: line.limit(this.settings) }, line.msg);
    }
    if (!close) return;
    conn.write(CAP_REFUSALS[cap]);
    conn.flush();
    conn.close();
  }

  /** Whether a cap's refusal line is counting: refusals came within its last window. */
  private refusing(): boolean {
    for (const line of Object.values(this.refusalLines)) if (line.open) return true;
    return false;
  }

  /**
   * The remote IP address `conn` is counted under by the per-address caps (remote-host.ts), read
   * again from the same `remote` at its release; undefined when no kind has such a cap (its
   * `remote` is then not read at accept: on Node that spares building the string), or when it
   * has no IP (a Unix socket).
   */
  private addressOf(conn: FrameConn): string | undefined {
    return this.perAddress ? remoteHost(conn.remote) : undefined;
  }

  /**
   * Its credentials were accepted: a connection `peers.admit` now takes becomes a peer; one on
   * probation that it does not take is sent away, told why (the words returned).
   */
  private promote(c: ServerConn): string | undefined {
    // Sent away already (a later hello offered no credentials): refused and counted then; its credentials only hear why.
    const role = c.role!;
    if (c.sentAway) return probationRefusals(role.past).credentials;
    const peer = this.census.promote(role, c.info, this.addressOf(c.conn));
    if (peer !== undefined) return void this.applyPromoted(c, peer);
    if (!role.probation) return undefined;
    this.settings.logger.info({ remote: c.conn.remote }, 'clients at their cap: a connection admitted pending credentials is not a peer; ending it');
    // A refusal at the clients' cap it was let in past, as one at accept: counted and on the cap's line (it leaves by itself).
    this.refuse(c.conn, role.past!, false);
    return probationRefusals(role.past).credentials;
  }

  /**
   * Its hello came: a TLS connection's verified identity is known now, and was not at accept
   * (the transport hands it over before the handshake). A client it makes a peer becomes one. On
   * probation, one it does not waits on for its credentials; when its hello offered none (none
   * will come, with `authenticate` or without), it is refused at the clients' cap, as it would
   * have been at accept had its certificate been known then (counted here, not closed: it
   * answers its hello with why and leaves, ServerConn.leaveProbationAtHello).
   */
  private identified(c: ServerConn, credentialsToCome: boolean): void {
    const role = c.role!;
    if (role.limits.kind === 'peer') return;
    const peer = c.conn.identity === undefined ? undefined : this.census.promote(role, c.info, this.addressOf(c.conn));
    if (peer !== undefined) return this.applyPromoted(c, peer);
    if (role.probation && !credentialsToCome) this.refuse(c.conn, role.past!, false);
  }

  /** The census made `c` a peer (`role`, the peers'): it is held to the peers' limits, and off probation if it was on one. */
  private applyPromoted(c: ServerConn, role: ConnRole): void {
    this.probations.end(c);
    c.applyRole(role);
  }

  /**
   * A peer the server knows needs the place a connection on probation holds: the one that waited
   * longest (from `address`, when the peer needs a place of its address's) is closed for it (it
   * ran nothing: a call on probation is refused), and forgotten now, so that its place is free
   * before its close comes back from the transport.
   */
  private displace(address?: string): boolean {
    const c = this.probations.oldest(address === undefined ? undefined : (p) => this.addressOf(p.conn) === address);
    if (c === undefined) return false;
    this.settings.logger.info({ remote: c.conn.remote }, 'a connection on probation gives up its place to a peer; closing it');
    this.release(c);
    c.forceClose();
    return true;
  }

  private forget(conn: ServerConn): void {
    this.release(conn);
    if (this.conns.size === 0) this.allClosed?.();
  }

  /** `conn` holds no place any more: counted off its kind, its probation (if any) over. Once only. */
  private release(conn: ServerConn): void {
    if (this.conns.has(conn)) this.census.release(conn.role!, this.addressOf(conn.conn));
    // Only a connection still on probation has an alarm: the others' close does no lookup.
    if (conn.role?.probation === true) this.probations.end(conn);
    this.conns.delete(conn);
  }

  private tick(): void {
    // One clock read per tick, counted as TickedTime for all four verdicts: by the wall clock,
    // the first tick after a stall (before the loop reads its sockets) would find a connection
    // whose call or frame's rest waits unread idle, stalled or unanswered for the whole stall
    // (and one whose client read on meanwhile, with no tick to see it, stalled in writing).
    const now = this.tickedTime.tick(this.settings.clock.now());
    for (const c of this.conns) {
      c.drainTick();
      if (this.idleFor(c, now) || this.stalledFor(c, now) || this.unanswered(c, now) || this.unread(c, now)) c.forceClose();
    }
  }

  /** True when `c` made no call for idleTimeoutMs (pings and the hello do not count); `now` is TickedTime's. */
  private idleFor(c: ServerConn, now: number): boolean {
    const { logger } = this.settings;
    const { idleTimeoutMs } = c.role!.limits;
    if (idleTimeoutMs <= 0) return false;
    if (c.sawCall || c.busy) {
      c.sawCall = false;
      c.lastFrameAt = now;
      return false;
    }
    if (now - c.lastFrameAt < idleTimeoutMs) return false;
    logger.info({ remote: c.conn.remote }, 'closing idle connection');
    return true;
  }

  /** True when `c`'s client left the server's ping unanswered for keepaliveTimeoutMs (frozen, or its link gone); `now` is TickedTime's. */
  private unanswered(c: ServerConn, now: number): boolean {
    if (!pingUnanswered(c, now)) return false;
    const { keepaliveTimeoutMs } = c.role!.limits;
    // Bounded by time, as the read timeout's: a stranger may freeze any number of connections.
    this.settings.violations.say('info', { remote: c.conn.remote, keepaliveTimeoutMs }, 'closing connection: its client did not answer a ping within keepaliveTimeoutMs');
    return true;
  }

  /** True when `c`'s client took no byte of what waits for it for keepaliveMs + keepaliveTimeoutMs (frozen behind a full send buffer); `now` is TickedTime's. */
  private unread(c: ServerConn, now: number): boolean {
    if (!writeStalled(c, now)) return false;
    const { keepaliveMs, keepaliveTimeoutMs } = c.role!.limits;
    this.settings.violations.say('info', { remote: c.conn.remote, keepaliveMs, keepaliveTimeoutMs }, 'closing connection: its client took no byte of what the server sent for keepaliveMs + keepaliveTimeoutMs');
    return true;
  }

  /** True when `c` has been in the middle of one frame for readTimeoutMs; `now` is TickedTime's. */
  private stalledFor(c: ServerConn, now: number): boolean {
    const { readTimeoutMs } = c.role!.limits;
    // While the server is not reading, the rest of a frame may well be waiting in its buffers.
    if (readTimeoutMs <= 0 || c.conn.midFrame !== true || c.paused) {
      c.midFrameSince = -1;
      return false;
    }
    if (c.midFrameSince < 0 || c.framesRead !== c.framesAtMidFrame) {
      // In a frame begun since the last look: its clock starts now.
      c.midFrameSince = now;
      c.framesAtMidFrame = c.framesRead;
      return false;
    }
    if (now - c.midFrameSince < readTimeoutMs) return false;
    // Waiting for room, the frame was held up by others' frames, not by its peer: said, so an operator can tell.
    const why = c.conn.waitingForRoom === true
      ? "closing connection: a frame was not finished within the read timeout, waiting for room in the transport's maxPendingFrameBytes budget (other connections' partly received frames held it)"
      : 'closing connection: a frame was not finished within the read timeout';
    this.settings.violations.say('info', { remote: c.conn.remote, readTimeoutMs }, why);
    return true;
  }

  /** What the rate-limited lines counted and did not say yet would be lost with the server: said now. */
  private flushLines(): void {
    for (const line of Object.values(this.refusalLines)) line.flush();
    this.streamRefusals.flush();
    this.settings.violations.flush();
    this.census.close();
    try {
      this.settings.dispatch.serverClosed?.();
    } catch (err) {
      this.settings.logger.error({ err }, 'dispatch.serverClosed threw');
    }
  }

  private async shutdown(): Promise<void> {
    this._state = 'closing';
    // Said before the drain begins: an operator's log shows the shutdown, and what it waits for.
    const { connections, inFlight } = this.stats();
    this.settings.logger.info({ connections, inFlight, closeWaitMs: this.settings.closeWaitMs }, `closing: draining ${connections === 1 ? '1 connection' : `${connections} connections`} with ${inFlight === 1 ? '1 call or stream' : `${inFlight} calls or streams`} running; new calls refused unrun`);
    // Every connection drains from close() on, not once the listeners have closed: a call read
    // meanwhile is refused unrun (Closed, safe to send elsewhere) rather than run and then, were the
    // listeners slow to close, cut by the close wait as one that may have run. No new reverse call
    // goes either (startDrain stops them): it would run on a peer being left. Connections the
    // listeners still accept drain as they come (accept).
    for (const c of this.conns) c.startDrain();
    // Told now too: a feed that ends on it spares the close its wait.
    this.drainSignal.fire(new RpcError(ErrorCode.Closed, 'the server is closing'));
    const startedAt = performance.now();
    /** Calls and streams still running when the close wait cut their connections: those of `inFlight` not finished. */
    let cut = 0;
    await this.closeListeners();
    if (this.conns.size > 0) {
      const done = new Promise<void>((resolve) => (this.allClosed = resolve));
      // One budget for the whole close: what the listeners took is not given again.
      const timer = setTimeout(() => {
        const running = (cut = [...this.conns].reduce((n, c) => n + c.inFlight, 0));
        // Says what to change: a handler that runs until told can end on the draining signal.
        this.settings.logger.warn(
          { connections: this.conns.size, inFlight: running, closeWaitMs: this.settings.closeWaitMs },
          `close wait over: cutting connections (${running === 1 ? '1 call or stream' : `${running} calls or streams`} still running after closeWaitMs ${this.settings.closeWaitMs} ms; a handler that runs until told can end on req.conn.draining / ctx.draining)`,
        );
        for (const c of this.conns) c.forceClose();
      }, Math.max(0, this.settings.closeWaitMs - (performance.now() - startedAt)));
      await done;
      clearTimeout(timer);
    }
    this.ticker?.stop();
    this.ticker = undefined;
    this.flushLines();
    this._state = 'closed';
    const ms = Math.round(performance.now() - startedAt);
    // Ended: answered, or gone with a connection its peer closed meanwhile (not told apart: no count per call).
    const ended = Math.max(0, inFlight - cut);
    this.settings.logger.info({ ms, ended, cut }, `closed after ${ms} ms: ${ended} of ${inFlight} calls or streams running at close() ended before closeWaitMs${cut > 0 ? `, ${cut} cut at it` : ''}`);
  }

  /**
   * Closes the listeners (a listen under way sees the state and closes its own: waited for too),
   * within `closeWaitMs`: the connections drain meanwhile, and the server's close waits for them
   * only after, so a transport whose listener close waits for the connections it accepted (as
   * Node's `server.close(cb)` does) would otherwise hang it for good. One that fails or is late
   * is logged, and the close goes on.
   */
  private async closeListeners(): Promise<void> {
    // The bound ones at once, not after the opening ones: a listen that never resolves must not leave their ports bound.
    const closed = Promise.allSettled([...this.listeners].map((l) => l.close())).then((results) => {
      for (const r of results) if (r.status === 'rejected') this.settings.logger.warn({ err: r.reason }, 'a listener failed to close');
    });
    const closes = Promise.all([closed, Promise.allSettled(this.opening)]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.settings.closeWaitMs)));
    if (await Promise.race([closes.then(() => false), late])) {
      this.settings.logger.warn({ closeWaitMs: this.settings.closeWaitMs }, 'listeners not closed within closeWaitMs: closing the connections anyway (a transport whose listener close waits for its connections breaks the FrameListener contract)');
    }
    clearTimeout(timer);
    this.listeners.clear();
  }
}
