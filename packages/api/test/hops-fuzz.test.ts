import { RpcError, silentLogger } from '@skein/core';
import { FailoverPool, RpcServer, type Strategy } from '@skein/stream';
import { below, handleCounts, leakedHandles, pick, portOf, seededRandom, sleep, startTcpRelay, within, type TcpRelay } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, type CallContext } from '../src/index.js';
import { transport } from './harness.js';
import { Back, Front, Ledger, codec } from './hop-chain.js';

// A seeded, randomized probe of at most once through three hops over real TCP: a client's
// FailoverPool → 2–3 Front servers, each calling on through a FailoverPool of its own → 2–3
// Back servers that count each run per call id. `pay`/`charge` are not idempotent, `look`/`peek`
// are. A TCP relay sits on every link (client → each Front, each Front's pool → each Back); the
// seed's schedule cuts links mid-call, holds answers or requests on a link and releases them, makes a server (or every
// Front, or every Back) unreachable as an abrupt stop looks to its peers (its links reset, new
// ones reset as they come) and reachable again, closes a Front or a Back gracefully and restarts
// it on its port, cancels calls and gives them deadlines that the Fronts pass on (`{ ctx }`).
// What the sockets do meanwhile is not the seed's, so the checks hold whatever the timing, once
// every server is closed (so nothing can still run): a `pay` ran at most once at each hop; an
// error with `retry: 'safe'` (never ran) comes for a call no hop ran, at the client and at each
// Front's call to Back; a call that succeeded ran exactly once (`pay`) or at least once (`look`).

const STEPS = 40;

/** One call the client made, and what it was told. */
interface Probe {
  id: string;
  idempotent: boolean;
  ok?: string;
  err?: unknown;
}

/** A Front's call to Back that failed: what it was told, per call id. */
interface OnwardFailure {
  id: string;
  err: unknown;
}

/** One server's slot (a Front or a Back): its port stays, its server may be closed and restarted on it. */
interface Slot {
  port: number;
  server: RpcServer;
  closing: Promise<void> | undefined;
  make(): RpcServer;
}

/** Everything one seed's run shares. */
class Run {
  readonly ledger = new Ledger();
  readonly probes: Probe[] = [];
  readonly onward: OnwardFailure[] = [];
  readonly backs: Slot[] = [];
  readonly fronts: Slot[] = [];
  readonly pools: FailoverPool[] = [];
  readonly relays: TcpRelay[] = [];
  /** Relays to Backs (one per Front per Back), by Back index: what "unreachable" cuts. */
  readonly backLinks: TcpRelay[][] = [];
  /** The client's relay to each Front. */
  readonly frontLinks: TcpRelay[] = [];
  readonly timers = new Set<ReturnType<typeof setTimeout>>();

  /** A Back handler: counted, then runs `ms` (in its id) or until its signal aborts. */
  private readonly backRun = async (id: string, ctx: CallContext): Promise<string> => {
    this.ledger.ran('back', id);
    const ms = Number(id.split(':')[1]);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      ctx.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
    return id;
  };

  private backServer(): RpcServer {
    const dispatch = createServiceDispatch({ codec, logger: silentLogger, services: [implement(Back, { charge: this.backRun, peek: this.backRun })] });
    return new RpcServer({ dispatch, closeWaitMs: 3_000, logger: silentLogger });
  }

  private static async slot(make: () => RpcServer): Promise<Slot> {
    const server = make();
    const port = portOf(await server.listen(transport, '127.0.0.1:0'));
    return { port, server, closing: undefined, make };
  }

  async startBack(): Promise<void> {
    this.backs.push(await Run.slot(() => this.backServer()));
  }

  /** Closes a server gracefully (its running calls finish, new ones are refused unrun), then serves on its port again. */
  static async restart(slot: Slot): Promise<void> {
    if (slot.closing) return;
    slot.closing = slot.server.close();
    await slot.closing;
    const server = slot.make();
    await server.listen(transport, `127.0.0.1:${slot.port}`);
    slot.server = server;
    slot.closing = undefined;
  }

  private pool(servers: string[], strategy: Strategy): FailoverPool {
    const p = new FailoverPool({ transport, servers, retries: 2, retryBudget: { ratio: 10 }, strategy, logger: silentLogger });
    this.pools.push(p);
    return p;
  }

  private async relay(target: string): Promise<TcpRelay> {
    const r = await startTcpRelay(target);
    this.relays.push(r);
    return r;
  }

  /** A Front: its own pool over relays to every Back; its handlers count, call on with `{ ctx }`, note a failure. */
  async startFront(strategy: Strategy): Promise<string> {
    const links: string[] = [];
    for (let i = 0; i < this.backs.length; i++) {
      const r = await this.relay(`127.0.0.1:${this.backs[i]!.port}`);
      (this.backLinks[i] ??= []).push(r);
      links.push(r.address);
    }
    const back = createClient(Back, this.pool(links, strategy), { codec });
    const onward = async (id: string, prefix: string, call: Promise<string>): Promise<string> => {
      try {
        return `${prefix} ${await call}`;
      } catch (err) {
        this.onward.push({ id, err });
        throw err;
      }
    };
    const pay = (id: string, ctx: CallContext) => (this.ledger.ran('front', id), onward(id, 'paid', back.charge(id, { ctx })));
    const look = (id: string, ctx: CallContext) => (this.ledger.ran('front', id), onward(id, 'saw', back.peek(id, { ctx })));
    const slot = await Run.slot(() => new RpcServer({ closeWaitMs: 3_000, logger: silentLogger, dispatch: createServiceDispatch({ codec, logger: silentLogger, services: [implement(Front, { pay, look })] }) }));
    this.fronts.push(slot);
    const relay = await this.relay(`127.0.0.1:${slot.port}`);
    this.frontLinks.push(relay);
    return relay.address;
  }

  /** The client: a pool over relays to the Fronts. */
  client(fronts: string[], strategy: Strategy) {
    return createClient(Front, this.pool(fronts, strategy), { codec });
  }

  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

const STRATEGIES: Strategy[] = ['leader', 'round-robin', 'least-active'];

async function runSeed(seed: number): Promise<string[]> {
  const random = seededRandom(seed);
  const run = new Run();
  const problems: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown): void => void unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  const nBacks = 2 + below(random, 2);
  const nFronts = 2 + below(random, 2);
  for (let i = 0; i < nBacks; i++) await run.startBack();
  const frontAddrs: string[] = [];
  for (let i = 0; i < nFronts; i++) frontAddrs.push(await run.startFront(pick(random, STRATEGIES)));
  const client = run.client(frontAddrs, pick(random, STRATEGIES));
  const calls: Promise<void>[] = [];
  const restarts: Promise<void>[] = [];
  const schedule: string[] = [];
  for (let step = 0; step < STEPS; step++) {
    const op = below(random, 100);
    if (op < 45) {
      const idempotent = random() < 0.3;
      const id = `s${seed}c${step}:${below(random, 4) === 0 ? 0 : below(random, 120)}`;
      const p: Probe = { id, idempotent };
      run.probes.push(p);
      const ac = new AbortController();
      // A deadline always (a held link must not hang the seed), sometimes short; sometimes a cancel.
      const timeoutMs = random() < 0.3 ? 20 + below(random, 150) : 2_000;
      if (random() < 0.2) {
        const at = below(random, 150);
        run.later(at, () => ac.abort());
      }
      schedule.push(`${step}:call ${id} ${idempotent ? 'look' : 'pay'} t${timeoutMs}`);
      const call = idempotent ? client.look(id, { timeoutMs, signal: ac.signal }) : client.pay(id, { timeoutMs, signal: ac.signal });
      calls.push(
        call.then(
          (v) => void (p.ok = v),
          (e: unknown) => void (p.err = e),
        ),
      );
    } else if (op < 55) {
      const r = pick(random, run.relays);
      schedule.push(`${step}:cut ${r.address}`);
      r.cut();
    } else if (op < 60) {
      // An answer held on its way back, or a request held on its way there, for a while.
      const r = pick(random, run.relays);
      const answers = random() < 0.5;
      schedule.push(`${step}:hold ${answers ? 'answers' : 'requests'} ${r.address}`);
      if (answers) r.hold();
      else r.holdClients();
      run.later(below(random, 200), () => (answers ? r.release() : r.releaseClients()));
    } else if (op < 66) {
      // A server out of reach (stopped abruptly, as its peers see it): its links reset, new ones
      // refused, for a while. Sometimes every Back or every Front at once.
      const links = random() < 0.5 ? pick(random, [...run.backLinks, ...run.frontLinks.map((r) => [r])]) : pick(random, [run.backLinks.flat(), run.frontLinks]);
      schedule.push(`${step}:unreachable ${links.map((r) => r.address).join(',')}`);
      for (const r of links) {
        r.refuse();
        r.cut();
      }
      run.later(below(random, 300), () => links.forEach((r) => r.accept()));
    } else if (op < 70) {
      const front = random() < 0.4;
      const i = below(random, front ? nFronts : nBacks);
      schedule.push(`${step}:restart ${front ? 'front' : 'back'} ${i}`);
      restarts.push(Run.restart((front ? run.fronts : run.backs)[i]!));
    } else if (op < 85) await new Promise((r) => setImmediate(r));
    else await sleep(below(random, 30));
  }
  // Every call has a deadline: each settles. Then every link relays again and every server
  // closes (waiting for its handlers): after that nothing can run, and the ledger is final.
  await within(Promise.all(calls), 20_000, `seed ${seed}: calls settling`);
  await within(Promise.all(restarts), 20_000, `seed ${seed}: restarts`);
  for (const t of run.timers) clearTimeout(t);
  for (const r of run.relays) {
    r.accept();
    r.release();
    r.releaseClients();
  }
  await within(Promise.all(run.pools.slice(-1).map((p) => p.close())), 10_000, 'client pool close');
  await within(Promise.all(run.fronts.map((s) => s.server.close())), 10_000, 'fronts close');
  await within(Promise.all(run.pools.slice(0, -1).map((p) => p.close())), 10_000, 'front pools close');
  await within(Promise.all(run.backs.map((b) => b.server.close())), 10_000, 'backs close');
  await Promise.all(run.relays.map((r) => r.close()));
  await sleep(20);
  process.off('unhandledRejection', onUnhandled);
  for (const err of unhandled) problems.push(`unhandled rejection: ${String(err)}`);
  for (const p of run.probes) check(p, run.ledger, problems);
  checkOnward(run, problems);
  if (problems.length > 0) problems.push(`schedule: ${schedule.join(' | ')}`);
  return problems;
}

const describeErr = (e: unknown): string => (e instanceof RpcError ? `${e.codeName} retry '${e.retry}' (${e.message})` : String(e));

/** The client's view of one call against what each hop ran. */
function check(p: Probe, ledger: Ledger, problems: string[]): void {
  const front = ledger.front.get(p.id) ?? 0;
  const back = ledger.back.get(p.id) ?? 0;
  const say = (m: string): void => void problems.push(`call ${p.id} (${p.idempotent ? 'look' : 'pay'}; front ran ${front}, back ran ${back}): ${m}`);
  if (!p.idempotent && (front > 1 || back > 1)) say('not idempotent, yet ran more than once');
  if (p.err === undefined) {
    if (p.ok !== `${p.idempotent ? 'saw' : 'paid'} ${p.id}`) say(`answered ${p.ok}`);
    if (p.idempotent ? back < 1 : back !== 1 || front !== 1) say('succeeded, yet did not run as it should');
    return;
  }
  if (!(p.err instanceof RpcError)) return say(`failed with an untyped ${String(p.err)}`);
  if (p.err.retry === 'safe' && (front > 0 || back > 0)) say(`failed ${describeErr(p.err)}, which says it never ran`);
}

/** A Front's call to Back (`charge` runs once per id at most): a 'safe' failure means Back never ran it. */
function checkOnward(run: Run, problems: string[]): void {
  for (const { id, err } of run.onward) {
    if (run.probes.find((p) => p.id === id)?.idempotent) continue;
    const back = run.ledger.back.get(id) ?? 0;
    if (err instanceof RpcError && err.retry === 'safe' && back > 0) problems.push(`call ${id}: a Front's Back.charge failed ${describeErr(err)}, which says it never ran, yet Back ran it ${back} times`);
  }
}

// Ten seeds and 28 (which, with 6, caught a final error that forgot an earlier attempt may have
// run; 1 to 10 catch the other two mutants), to keep CI's time under its budget; 1,640 seeds
// passed when it was written (SKEIN_FUZZ_SEEDS to hunt).
const DEFAULT_SEEDS = [...Array.from({ length: 10 }, (_, i) => i + 1), 28];
const SEEDS = process.env.SKEIN_FUZZ_SEEDS ? process.env.SKEIN_FUZZ_SEEDS.split(',').map(Number) : DEFAULT_SEEDS;

describe('at most once through three hops under a seeded random schedule of cuts, holds, outages, restarts, cancels and deadlines', () => {
  it.each(SEEDS)('seed %i: a pay runs at most once, a success ran, a safe error never ran; nothing left open', async (seed) => {
    const before = handleCounts();
    const problems = await runSeed(seed);
    expect(problems, `seed ${seed} (replay: SKEIN_FUZZ_SEEDS=${seed})`).toEqual([]);
    expect(leakedHandles(before), `seed ${seed}: handles left`).toEqual({});
  }, 40_000);
});
