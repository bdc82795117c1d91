import net from 'node:net';

/** A TCP relay on loopback to one target, whose connections a test can cut at a moment it picks. */
export interface TcpRelay {
  /** `127.0.0.1:<port>`, what a client connects to instead of the target. */
  readonly address: string;
  /**
   * How many connections clients have opened to it so far, each relayed or not: with the target
   * down (its port refusing), how often a client dials it.
   */
  connections(): number;
  /** Resets every connection relayed now (both sides); new connections are relayed as before. */
  cut(): void;
  /**
   * Resets each new connection as it comes, without dialing the target, until `accept()`: the
   * target out of reach for this client alone (with `cut()`, for the ones it has too).
   */
  refuse(): void;
  /**
   * Accepts each new connection and says nothing on it, without dialing the target, until
   * `accept()`: a connect that hangs (a server whose backlog takes connections it never answers)
   * for this client alone, the connections it has relayed as before. `cut()` resets them too.
   */
  mute(): void;
  /** Relays new connections again (after `refuse()` or `mute()`). */
  accept(): void;
  /**
   * Makes every connection relayed now go dead without a word: their bytes are dropped both ways
   * and nothing is closed or reset, as when a NAT or firewall forgets a flow. Neither side can
   * tell (no keepalive, no error); new connections are relayed as before.
   */
  stall(): void;
  /**
   * Holds what the target sends on every connection relayed now (the client's bytes still go
   * through), until `release()`: a slow link back, at a moment the test picks.
   */
  hold(): void;
  /** Delivers what `hold()` kept, and relays the target's bytes again. */
  release(): void;
  /**
   * Holds what clients send on every connection relayed now (the target's bytes, and its end,
   * still come through), until `releaseClients()`: a request still on its way to the target at a
   * moment the test picks.
   */
  holdClients(): void;
  /** Delivers what `holdClients()` kept, and relays the clients' bytes again. */
  releaseClients(): void;
  /**
   * Relays the bytes of every connection relayed now at about `bytesPerSecond` each way, in small
   * steps: a slow but steady link (a phone's), where bytes always move but a large reply or
   * upload takes seconds.
   */
  throttle(bytesPerSecond: number): void;
  /**
   * Bytes read from the target so far, over every connection (relayed, held back by `hold()`
   * once read, or dropped by `stall()`): how far an answer has come, for a cut mid-way.
   */
  fromTarget(): number;
  /** Stops listening and resets every connection. */
  close(): Promise<void>;
}

export interface TcpRelayOptions {
  /**
   * Every connection relayed at about this many bytes a second each way from its first byte, as
   * `throttle` does for those relayed already: a link slow for good, also for a client's new
   * connections (etcd3 dials again after a call of its fails).
   */
  bytesPerSecond?: number;
}

/**
 * Relays each connection to `target` (`host:port`). For a network blip between one client and
 * a server that stays up (a restarted server would lose state the test needs, e.g. etcd's
 * auth tokens): `cut()` resets the client's connections as a broken link would, and the client
 * connects again through the relay.
 */
export async function startTcpRelay(target: string, opts: TcpRelayOptions = {}): Promise<TcpRelay> {
  const { hostname, port } = new URL(`tcp://${target.replace(/^[a-z]+:\/\//, '')}`);
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined); // a reset is what cut() is for
  };
  /** Inbound → outbound, for each connection still relayed. */
  const live = new Map<net.Socket, net.Socket>();
  /**
   * Inbound sockets whose target's bytes (`target`) or clients' bytes (`clients`) are held now: a
   * release pipes these alone again. Any other is piped already (relayed since the hold, or never
   * held), and a socket piped twice to one destination writes each of its bytes there twice.
   */
  const held = { target: new Set<net.Socket>(), clients: new Set<net.Socket>() };
  /**
   * The throttle of each direction `throttle()` (or `bytesPerSecond`) slowed, by the socket it
   * reads: that direction is relayed by it alone from then on, never by a pipe as well (a hold
   * holds it, a release resumes it, a throttle again sets its pace), or each byte would go twice.
   */
  const slowed = new Map<net.Socket, Slow>();
  const slow = (from: net.Socket, to: net.Socket, bytesPerSecond: number, holding: boolean): void => {
    const known = slowed.get(from);
    if (known !== undefined) known.bytesPerSecond = bytesPerSecond;
    else slowed.set(from, slowly(from, to, bytesPerSecond, holding));
  };
  let fromTarget = 0;
  let connections = 0;
  let refusing = false;
  let muting = false;
  const server = net.createServer((inbound) => {
    connections++;
    if (refusing) {
      inbound.on('error', () => undefined);
      return void inbound.resetAndDestroy();
    }
    if (muting) {
      track(inbound);
      // Read and dropped: a socket never read would not see its peer's close.
      return void inbound.resume();
    }
    const outbound = net.connect(Number(port), hostname);
    track(inbound);
    track(outbound);
    live.set(inbound, outbound);
    inbound.on('close', () => {
      live.delete(inbound);
      held.target.delete(inbound);
      held.clients.delete(inbound);
      slowed.delete(inbound);
      slowed.delete(outbound);
    });
    inbound.pipe(outbound).on('close', () => inbound.destroy());
    outbound.pipe(inbound).on('close', () => outbound.destroy());
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
    // Counted as read, whoever reads it (the pipe, `slowly`, `stall`'s drop). Added once piped: a
    // listener more does not change the flow then.
    outbound.on('data', (chunk: Buffer) => void (fromTarget += chunk.length));
    if (opts.bytesPerSecond !== undefined) {
      slow(outbound, inbound, opts.bytesPerSecond, false);
      slow(inbound, outbound, opts.bytesPerSecond, false);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const cut = (): void => {
    // A socket ended whose shutdown is not done yet (end() called this turn: writableEnded, not
    // writableFinished) cannot be reset: libuv refuses (EINVAL), and Node 20 then drops the handle
    // unclosed, a TCP handle held for the process's life. Such a one is destroyed instead.
    for (const s of [...sockets]) (s.writableEnded && !s.writableFinished ? s.destroy() : s.resetAndDestroy());
  };
  const stall = (): void => {
    for (const [inbound, outbound] of live) {
      inbound.unpipe(outbound);
      outbound.unpipe(inbound);
      // Read and dropped: a full window would be a sign neither side gets from a dead link either.
      inbound.on('data', () => undefined);
      outbound.on('data', () => undefined);
    }
    live.clear();
  };
  // One direction of every connection relayed now: the target's bytes (`fromTarget`) or the clients'.
  const holdWay = (fromTarget: boolean): void => {
    const holding = fromTarget ? held.target : held.clients;
    for (const [inbound, outbound] of live) {
      const [from, to] = fromTarget ? [outbound, inbound] : [inbound, outbound];
      const throttled = slowed.get(from);
      if (throttled !== undefined) throttled.hold();
      else {
        from.unpipe(to);
        from.pause();
      }
      holding.add(inbound);
    }
  };
  const releaseWay = (fromTarget: boolean): void => {
    const holding = fromTarget ? held.target : held.clients;
    for (const inbound of holding) {
      // A connection `stall()` dropped since stays dead.
      const outbound = live.get(inbound);
      if (!outbound) continue;
      const [from, to] = fromTarget ? [outbound, inbound] : [inbound, outbound];
      // A throttled direction goes on at its pace, unpiped.
      const throttled = slowed.get(from);
      if (throttled !== undefined) throttled.release();
      else from.pipe(to);
    }
    holding.clear();
  };
  const throttle = (bytesPerSecond: number): void => {
    for (const [inbound, outbound] of live) {
      // A held direction stays held until its release.
      slow(outbound, inbound, bytesPerSecond, held.target.has(inbound));
      slow(inbound, outbound, bytesPerSecond, held.clients.has(inbound));
    }
  };
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: () => connections,
    cut,
    refuse: () => void (refusing = true),
    mute: () => void (muting = true),
    accept: () => void (refusing = muting = false),
    stall,
    hold: () => holdWay(true),
    release: () => releaseWay(true),
    holdClients: () => holdWay(false),
    releaseClients: () => releaseWay(false),
    throttle,
    fromTarget: () => fromTarget,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        cut();
      }),
  };
}

/**
 * The most a late timer is made up for, in ms of the link's bytes: a relay starved of CPU (a
 * loaded machine) catches up on the bytes its timer owed, so the link's pace is set by the bytes
 * moved, not by how punctually timers fire (paced per chunk by timer alone, each late wake-up was
 * time lost for good: 16 MiB/s came out at about 8 alone and 3 on a loaded 2-core box). Bounded,
 * so that after the link sat idle its first bytes come at most this much early.
 */
const CATCH_UP_MS = 250;

/** One direction relayed at a pace (`slowly`): its pace may change, and a hold stops it until its release. */
interface Slow {
  bytesPerSecond: number;
  hold(): void;
  release(): void;
}

/**
 * Relays `from` to `to` at about `bytesPerSecond`: the link is done with the bytes relayed so far
 * at `doneAt` (ms), and `from` pauses while that is ahead of the clock, to resume when it is due
 * (unless held meanwhile). `from`'s end ends `to`, as a pipe's does. Starts held if `holding`.
 */
function slowly(from: net.Socket, to: net.Socket, bytesPerSecond: number, holding: boolean): Slow {
  from.unpipe(to);
  let doneAt = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let held = holding;
  const pace: Slow = {
    bytesPerSecond,
    hold: () => {
      held = true;
      from.pause();
    },
    release: () => {
      held = false;
      if (timer === undefined) from.resume();
    },
  };
  from.on('data', (chunk: Buffer) => {
    to.write(chunk);
    const now = performance.now();
    doneAt = Math.max(doneAt, now - CATCH_UP_MS) + (chunk.length / pace.bytesPerSecond) * 1000;
    if (doneAt <= now || timer !== undefined) return;
    from.pause();
    timer = setTimeout(() => {
      timer = undefined;
      if (!held) from.resume();
    }, Math.max(1, doneAt - now));
  });
  from.on('end', () => to.end());
  // Unpiped, it stays paused: a 'data' listener alone does not start it again.
  if (held) from.pause();
  else from.resume();
  return pace;
}
