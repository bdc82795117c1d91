/**
 * partition: the two-hop chain of chaos.ts (client → FailoverPool over three fronts → each
 * front's FailoverPool over three backs), every process on a host of its own in a NetLab, and
 * packets silently dropped mid-flood instead of processes killed: no reset tells anyone, so only
 * timeouts and keepalive find out, and a request can reach its server (and run) after its caller
 * gave up. In turn (`faultsOn`): a back's link goes down, then up; one front's requests to a back
 * are dropped; that back's answers to the front are dropped (it runs the calls, nobody hears); a
 * front's link goes down, then up; a front's answers to the client are dropped. Runs per call
 * id are counted from every server's execution log once late packets have landed: no
 * non-idempotent call may run twice, no call failed as "never ran" may have run, an idempotent
 * call may fail only with a deadline, unreachable or lost-connection error, and every call
 * settles by its deadline plus a grace.
 */
import { fileURLToPath } from 'node:url';
import { netnsUnavailable, reap, sleep, startNetLab, type NetHost, type NetLab, type Proc } from '@skein/test-utils';
import { CLIENT_DONE, CLIENT_READY, CLIENT_STARTED, callDeadlineMs, type ClientParams, type ClientResults } from './client-params.js';
import { check, none, type Check, type ScenarioReport } from './checks.js';
import { Executions, Outcome, type ServerLog } from './executions.js';
import { errorSummary } from './flood.js';
import { holdsWithin } from './guard.js';
import type { ServerParams } from './server-params.js';
import { scratchDir, startServer, stopServer, type ServerProcess } from './servers.js';

export interface PartitionOptions {
  /** Calls in all; even ids idempotent. */
  calls: number;
  /** Calls in flight at once at the client. */
  inFlight: number;
  /** Calls started per second: with `calls`, how long each fault lasts. */
  ratePerSecond: number;
}

const CLIENT_SCRIPT = fileURLToPath(new URL('../dist/flood-client.js', import.meta.url));
const PORT = 7000;
/** Each call's work on a back, between its log line and its answer: answers dropped in it are lost. */
const WORK_MS = 5;
/**
 * Keepalive finds a silent peer within about a second at both hops, and a connect to a host
 * whose link is down gives up after one: sooner than any call's timeout, so that calls meet
 * lost connections and unreachable servers, not only their own timeouts.
 */
const STREAM = { keepaliveMs: 250, keepaliveTimeoutMs: 1000, connectTimeoutMs: 1000, tickMs: 100 };
/**
 * A front's call to the backs (1 s, all its attempts together) fits well inside the client's
 * call (4 s, all its attempts together): a front's answer comes before the client gives up,
 * with time left for the client to try another front.
 */
const FRONT_TIMEOUT_MS = 1000;
const CLIENT_TIMEOUT_MS = 4000;
/** Past its deadline plus this, a call counts as hung. Generous: a guard against hangs, not a measure. */
const GRACE_MS = 5000;
/** How long the execution logs must stay still before they are read: late packets land in it. */
const QUIET_MS = 2000;
const HOSTS = ['client', 'front0', 'front1', 'front2', 'back0', 'back1', 'back2'];

/** Packets dropped between hosts, and healed; `startedAt`/`healedAt`: calls started by then. */
interface Fault {
  readonly what: string;
  make(): void;
  heal(): void;
  startedAt?: number;
  healedAt?: number;
}

/** The faults, in the order they are made: each is healed before the next. */
function faultsOn(h: Record<string, NetHost>): Fault[] {
  const [client, front0, front1, front2, back1, back2] = [h.client!, h.front0!, h.front1!, h.front2!, h.back1!, h.back2!];
  return [
    { what: 'back1 link down', make: () => back1.linkDown(), heal: () => back1.linkUp() },
    { what: 'front0 → back2 dropped (requests)', make: () => front0.cutFrom(back2), heal: () => front0.healFrom(back2) },
    { what: 'back2 → front0 dropped (answers)', make: () => back2.cutFrom(front0), heal: () => back2.healFrom(front0) },
    { what: 'front1 link down', make: () => front1.linkDown(), heal: () => front1.linkUp() },
    // The first hop's calls run, and their answers are lost: the client must not run them again.
    { what: 'front2 → client dropped (answers)', make: () => front2.cutFrom(client), heal: () => front2.healFrom(client) },
  ];
}

export async function runPartition(o: PartitionOptions): Promise<ScenarioReport> {
  const unavailable = netnsUnavailable();
  if (unavailable !== undefined) return { scenario: 'partition', figures: [['skipped', unavailable]], checks: [] };
  const lab = startNetLab(HOSTS);
  const logs = scratchDir();
  const servers: ServerProcess[] = [];
  let client: Proc | undefined;
  const faults = faultsOn(lab.hosts);
  try {
    const params = clientParams(o, await startChain(lab, logs, servers), logs.file('client.json'));
    client = lab.hosts.client!.start(process.execPath, [CLIENT_SCRIPT, JSON.stringify(params)]);
    await client.waitForLine(CLIENT_READY);
    await makeFaults(client, faults, o, callDeadlineMs(params));
    // The client gives up on a stalled flood after a deadline and a grace, and on its calls after another.
    await client.waitForLine(CLIENT_DONE, 2 * (callDeadlineMs(params) + GRACE_MS) + GRACE_MS);
    const ranSoFar = (): number => servers.reduce((n, s) => n + logs.read(s.name).split('\n').length - 1, 0);
    const atDone = ranSoFar();
    const quiet = await untilStill(ranSoFar);
    for (const s of servers) await stopServer(s);
    const results = JSON.parse(logs.read('client.json')) as ClientResults;
    return report(o, results, runsOf(servers, logs, results.outcomes.length), faults, { late: ranSoFar() - atDone, quiet });
  } finally {
    for (const f of faults) if (f.startedAt !== undefined && f.healedAt === undefined) healQuietly(f);
    await reap(client);
    for (const s of servers) await stopServer(s);
    lab.close();
    logs.remove();
  }
}

type Scratch = ReturnType<typeof scratchDir>;

/** Three backs, then three fronts over them, each on its own host and listening on its address; the fronts' addresses. */
async function startChain(lab: NetLab, logs: Scratch, servers: ServerProcess[]): Promise<string[]> {
  const serve = async (name: string, p: Omit<ServerParams, 'name' | 'listen' | 'executions'>): Promise<string> => {
    const s = await startServer({ ...p, name, listen: `${lab.hosts[name]!.address}:${PORT}`, executions: logs.file(name) }, lab.hosts[name]);
    servers.push(s);
    return s.address;
  };
  const backs: string[] = [];
  for (let i = 0; i < 3; i++) backs.push(await serve(`back${i}`, { role: 'back', workMs: WORK_MS }));
  const fronts: string[] = [];
  const pool = { retries: 2, pool: { stream: { ...STREAM, timeoutMs: FRONT_TIMEOUT_MS } } };
  for (let i = 0; i < 3; i++) fronts.push(await serve(`front${i}`, { role: 'front', backs, pool }));
  return fronts;
}

function clientParams(o: PartitionOptions, fronts: string[], out: string): ClientParams {
  const { calls, inFlight, ratePerSecond } = o;
  return { servers: fronts, calls, inFlight, ratePerSecond, timeoutMs: CLIENT_TIMEOUT_MS, graceMs: GRACE_MS, pool: { retries: 2, pool: { stream: STREAM } }, out };
}

/** Runs per call id, read from every server's execution log. */
function runsOf(servers: ServerProcess[], logs: Scratch, calls: number): Executions {
  const logOf = (s: ServerProcess): ServerLog => ({ name: s.name, killed: false, text: logs.read(s.name) });
  const tier = (role: string): ServerLog[] => servers.filter((s) => s.name.startsWith(role)).map(logOf);
  return new Executions(calls, tier('back'), tier('front'));
}

/** Heals a fault on the way out; the lab is deleted next anyway, so a failure here must not hide the run's own error. */
function healQuietly(f: Fault): void {
  try {
    f.heal();
  } catch {}
}

/**
 * Fault i is made once the client started (2i + 1)/(2n + 1) of its calls and healed at
 * (2i + 2)/(2n + 1): each one mid-flood, with calls before, during and after it. A flood that
 * stalls (every worker on a hung call) ends the faults early, healed: the report says so.
 */
async function makeFaults(client: Proc, faults: Fault[], o: PartitionOptions, deadlineMs: number): Promise<void> {
  const segment = o.calls / (2 * faults.length + 1);
  // A guard only: at the rate asked, a segment takes segment / rate seconds.
  const guardMs = (segment / o.ratePerSecond) * 1000 * 4 + 2 * (deadlineMs + GRACE_MS);
  for (const [i, f] of faults.entries()) {
    const from = await startedAtLeast(client, (2 * i + 1) * segment, guardMs);
    if (from === undefined) return;
    f.startedAt = from;
    f.make();
    const to = await startedAtLeast(client, (2 * i + 2) * segment, guardMs);
    f.heal();
    f.healedAt = to ?? started(client);
    if (to === undefined) return;
  }
}

/** Calls the client has started, as far as its lines tell. */
function started(client: Proc): number {
  const line = [...client.lines].reverse().find((l) => CLIENT_STARTED.test(l));
  return line === undefined ? 0 : Number(line.match(CLIENT_STARTED)![1]);
}

/** Waits for the client to have started `n` calls: how many it has, or undefined if it stalled short of them. */
async function startedAtLeast(client: Proc, n: number, guardMs: number): Promise<number | undefined> {
  const reached = await holdsWithin(() => started(client) >= n, guardMs);
  return reached ? started(client) : undefined;
}

/** Waits until `count` stays the same for QUIET_MS (a minute at most): packets a heal let through have landed. */
async function untilStill(count: () => number): Promise<boolean> {
  const until = Date.now() + 60_000;
  let last = count();
  let stillSince = Date.now();
  while (Date.now() < until) {
    await sleep(250);
    const now = count();
    if (now !== last) [last, stillSince] = [now, Date.now()];
    else if (Date.now() - stillSince >= QUIET_MS) return true;
  }
  return false;
}

/** The error codes a network fault explains: a deadline passed, a server unreachable, a connection lost. */
const NETWORK_ERRORS = new Set(['Timeout', 'Unreachable', 'IO']);

interface Tally {
  ok: [number, number];
  unrun: [number, number];
  mayHaveRun: [number, number];
  unsettled: number;
  twice: number;
  idempotentAgain: number;
  unrunButRan: number;
  idempotentOtherError: number;
  late: number;
  phantom: number;
  slowestMs: number;
  /** The first few calls that never settled, with what each hop ran of them. */
  hung: string[];
}

/** Counts, over every call id, what the client saw against what the servers ran. */
function tally(r: ClientResults, runs: Executions): Tally {
  const t: Tally = { ok: [0, 0], unrun: [0, 0], mayHaveRun: [0, 0], unsettled: 0, twice: 0, idempotentAgain: 0, unrunButRan: 0, idempotentOtherError: 0, late: 0, phantom: 0, slowestMs: 0, hung: [] };
  for (let id = 0; id < r.outcomes.length; id++) {
    const idempotent = id % 2 === 0;
    const kind = idempotent ? 0 : 1;
    const outcome = r.outcomes[id];
    if (outcome === Outcome.Ok) t.ok[kind]++;
    else if (outcome === Outcome.FailedUnrun) t.unrun[kind]++;
    else if (outcome === Outcome.Failed) t.mayHaveRun[kind]++;
    else if (t.unsettled++ < 10) t.hung.push(`${id}${outcome === undefined || outcome === null ? ' (not made)' : ''}: front ${runs.front[id]}, back ${runs.back[id]}`);
    if (runs.runs(id) > 1) idempotent ? t.idempotentAgain++ : t.twice++;
    if (outcome === Outcome.FailedUnrun && runs.ran(id)) t.unrunButRan++;
    if (idempotent && (outcome === Outcome.Failed || outcome === Outcome.FailedUnrun) && !NETWORK_ERRORS.has(r.errors[id]!.split('/')[0]!)) t.idempotentOtherError++;
    if (outcome === Outcome.Ok && runs.back[id] === 0) t.phantom++;
    const ms = r.settledMs[id]!;
    if (ms > r.deadlineMs + GRACE_MS) t.late++;
    t.slowestMs = Math.max(t.slowestMs, ms);
  }
  return t;
}

/** Calls started while `f` lasted that failed. */
function failedBetween(r: ClientResults, f: Fault): number {
  let n = 0;
  for (let id = f.startedAt ?? 0; id < (f.healedAt ?? 0); id++) if (r.outcomes[id] !== Outcome.Ok) n++;
  return n;
}

function report(o: PartitionOptions, r: ClientResults, runs: Executions, faults: Fault[], after: { late: number; quiet: boolean }): ScenarioReport {
  const t = tally(r, runs);
  const calls = r.outcomes.length;
  const errors = new Map<string, number>();
  for (const e of r.errors) if (e !== '') errors.set(e, (errors.get(e) ?? 0) + 1);
  const pair = ([i, n]: [number, number]): string => `${i} idempotent, ${n} not`;
  const checks: Check[] = [
    ...faults.map((f) => check(`calls started while ${f.what}`, f.startedAt !== undefined && f.healedAt! > f.startedAt, `${(f.healedAt ?? 0) - (f.startedAt ?? 0)}`)),
    check('every call made', calls === o.calls, `${calls} of ${o.calls}`),
    none('calls never settled (hung)', t.unsettled),
    none(`calls settled later than their deadline (${r.deadlineMs} ms) plus ${GRACE_MS} ms`, t.late, `(slowest ${Math.round(t.slowestMs)} ms)`),
    none('non-idempotent calls run twice (any hop)', t.twice, `of ${Math.floor(calls / 2)}`),
    none('calls failed as "never ran" that ran', t.unrunButRan),
    none('idempotent calls failed but by a deadline, an unreachable server or a lost connection', t.idempotentOtherError),
    none('calls answered ok that no back server ran', t.phantom),
    check('execution logs still before they were read (late packets landed)', after.quiet, after.quiet ? 'yes' : 'still growing after 60 s'),
  ];
  return {
    scenario: 'partition (packets dropped, two hops across hosts)',
    figures: [
      ['calls', `${calls} at ${o.ratePerSecond}/s, ${o.inFlight} in flight; deadline ${r.deadlineMs} ms a call`],
      ['faults (calls started meanwhile: failed)', faults.map((f) => `${f.what} (calls ${f.startedAt}..${f.healedAt}: ${failedBetween(r, f)})`).join(', ')],
      ['answered ok', pair(t.ok)],
      ['failed as "may have run"', pair(t.mayHaveRun)],
      ['failed as "never ran"', pair(t.unrun)],
      ['errors', errorSummary(errors)],
      ['idempotent calls run more than once', t.idempotentAgain],
      ['runs logged after the client was done (late packets)', after.late],
      ['slowest call', `${Math.round(t.slowestMs)} ms`],
      ['calls never settled (first 10; runs per hop)', t.hung.join(', ') || 'none'],
    ],
    checks,
  };
}
