/**
 * fuzz: a million random and mutated frames from many connections at once, while a control
 * client keeps calling. The server must never die, the control client never fail, every bad
 * connection be closed by the server after every answer it owes, and memory stay bounded by what
 * peers sent, never by what they claim.
 */
import { rawConnect, seededRandom, sleep, type RawSocket } from '@skein/test-utils';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, DEFAULT_LIMITS, protocol, type Limits } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { check, none, type Check, type ScenarioReport } from './checks.js';
import { Flood, errorSummary } from './flood.js';
import { countResponses, pieces, planConnection, requestFrame, type ConnectionPlan } from './frames.js';
import { holdsWithin } from './guard.js';
import { CHURN, HEADROOM, heldFor, mib } from './memory.js';
import { fetchStats, startServer, stopServer, type ServerProcess } from './servers.js';
import { ACTION, type ServerStats } from './server-params.js';

export interface FuzzOptions {
  /** Frames to send in all; the run stops sooner when `seconds` are up. */
  frames: number;
  seconds: number;
  /** Fuzz connections open at once. */
  connections: number;
  /** Answered frames per connection before its last one, on average. */
  framesPerConnection: number;
  /** Connections that each claim the largest frame the limits allow and send a few bytes of it. */
  claims: number;
  seed: number;
  /** How long a bad connection may stay open before it counts as left open. Default 10 s. */
  closeWaitMs?: number;
}

const transport = tcpTransport(nodeRuntime);
/** The server runs the default limits: a claimed frame may be 80 MiB (16 MiB message, 64 MiB blob). */
const LIMITS: Limits = { ...DEFAULT_LIMITS };
/** Connections left open after which a run stops early: each costs a full wait, and the verdict is in. */
const GIVE_UP_AFTER = 10;

export async function runFuzz(o: FuzzOptions): Promise<ScenarioReport> {
  const server = await startServer({ name: 'fuzzed', role: 'back', server: { limits: LIMITS } });
  const control = await ClientStream.connect({ transport, address: server.address });
  try {
    const claims = await claimPhase(server, control, o);
    const flood = await floodPhase(server, control, o);
    const after = await settledStats(control);
    return report(o, claims, flood, after, server);
  } finally {
    await control.close();
    await stopServer(server);
  }
}

/** What the claims phase saw: memory before and while `claims` peers each claim a whole frame. */
interface Claims {
  readonly sent: number;
  readonly claimed: number;
  readonly before: ServerStats;
  readonly during: ServerStats;
  /** Claiming peers the server closed before they ended (memory refused them). */
  readonly closedEarly: number;
  readonly leftOpen: number;
}

/**
 * Each peer sends a ping, then the header of the largest frame the limits allow and a few bytes
 * of its body, and waits. The pong comes out of the same read as the header, so once every pong
 * is back the server has seen every claim: its memory then says what a claim costs.
 */
async function claimPhase(server: ServerProcess, control: ClientStream, o: FuzzOptions): Promise<Claims> {
  const before = await fetchStats(control);
  const random = seededRandom(o.seed);
  const body = 64;
  const peers: RawSocket[] = [];
  let sent = 0;
  for (let i = 0; i < o.claims; i++) {
    const head = requestFrame(ACTION.echoNumeric, 2, new Uint8Array(body).map(() => Math.floor(random() * 256)));
    const view = new DataView(head.buffer);
    view.setUint32(protocol.REQ_MSG_LEN_AT, LIMITS.maxMessage, true);
    view.setUint32(protocol.REQ_BLOB_LEN_AT, LIMITS.maxBlob, true);
    const bytes = Buffer.concat([requestFrame(0, 1), head]);
    const peer = await rawConnect(server.address);
    peer.write(bytes);
    sent += bytes.length;
    peers.push(peer);
  }
  await holdsWithin(() => peers.every((p) => p.peerClosed || countResponses(p.received()) >= 1), o.closeWaitMs ?? 10_000);
  const during = await fetchStats(control);
  const closedEarly = peers.filter((p) => p.peerClosed).length;
  for (const p of peers) p.end();
  const leftOpen = await closedWithin(peers, o.closeWaitMs ?? 10_000);
  for (const p of peers) p.destroy();
  return { sent, claimed: o.claims * (LIMITS.maxMessage + LIMITS.maxBlob), before, during, closedEarly, leftOpen };
}

/** What the fuzz connections did, and what the server did with them. */
class FuzzTally {
  frames = 0;
  connections = 0;
  leftOpen = 0;
  /** Connections the server closed with fewer answers than it owed them. */
  answersMissing = 0;
  answersExtra = 0;
  /** The most bytes one connection sent. */
  largestPeer = 0;
  /** Connections by how their last frame ended them. */
  readonly byTerminal = new Map<string, number>();
  /** `answersMissing`, by the same. */
  readonly missingBy = new Map<string, number>();

  planned(plan: ConnectionPlan): void {
    this.connections++;
    this.frames += plan.frames;
    this.largestPeer = Math.max(this.largestPeer, plan.bytes.length);
    bump(this.byTerminal, plan.terminal.kind);
  }

  ended(plan: ConnectionPlan, outcome: { replies: number; leftOpen: boolean }): void {
    if (outcome.leftOpen) this.leftOpen++;
    if (outcome.replies > plan.replies[1]) this.answersExtra++;
    if (outcome.replies < plan.replies[0]) {
      this.answersMissing++;
      bump(this.missingBy, plan.terminal.kind);
    }
  }
}

const bump = (m: Map<string, number>, key: string): void => void m.set(key, (m.get(key) ?? 0) + 1);
/** `bad magic 3, cut short 1` */
const listed = (m: ReadonlyMap<string, number>): string => [...m].map(([k, n]) => `${k} ${n}`).join(', ');

interface FloodSeen {
  readonly tally: FuzzTally;
  readonly control: Flood;
  readonly rssMax: number;
  readonly arrayBuffersMax: number;
  readonly baseline: ServerStats;
  readonly seconds: number;
}

async function floodPhase(server: ServerProcess, control: ClientStream, o: FuzzOptions): Promise<FloodSeen> {
  const baseline = await fetchStats(control);
  const started = Date.now();
  const deadline = started + o.seconds * 1000;
  const tally = new FuzzTally();
  const memory = { rss: baseline.rss, arrayBuffers: baseline.arrayBuffers };
  const flood = new Flood((n) => echoCheck(control, n), 4);
  const going = (): boolean => Date.now() < deadline && tally.frames < o.frames && tally.leftOpen < GIVE_UP_AFTER;
  const sampler = sample(control, memory, going);
  const fuzzer = async (): Promise<void> => {
    while (going()) {
      // Seeds mixed, not consecutive: neighbouring seeds start alike.
      const random = seededRandom((Math.imul(tally.connections + 1, 0x9e3779b1) ^ Math.imul(o.seed, 0x85ebca6b)) >>> 0);
      const plan = planConnection(random, LIMITS, o.framesPerConnection);
      tally.planned(plan);
      tally.ended(plan, await fuzzConnection(server.address, plan, random, o.closeWaitMs ?? 10_000));
    }
  };
  await Promise.all(Array.from({ length: o.connections }, fuzzer));
  await sampler;
  await flood.stop();
  return { tally, control: flood, rssMax: memory.rss, arrayBuffersMax: memory.arrayBuffers, baseline, seconds: (Date.now() - started) / 1000 };
}

/** Sends a plan in pieces (yielding between some, so reads cut frames), then waits for the server to close. */
async function fuzzConnection(address: string, plan: ConnectionPlan, random: () => number, waitMs: number): Promise<{ replies: number; leftOpen: boolean }> {
  const peer = await rawConnect(address);
  let at = 0;
  for (const cut of pieces(random, plan.bytes.length)) {
    if (peer.peerClosed) break;
    peer.write(plan.bytes.subarray(at, cut));
    at = cut;
    if (random() < 0.3) await new Promise((resolve) => setImmediate(resolve));
  }
  if (plan.terminal.endAfter) peer.end();
  const leftOpen = (await closedWithin([peer], waitMs)) > 0;
  const replies = countResponses(peer.received());
  peer.destroy();
  return { replies, leftOpen };
}

/** How long the server may take to notice the last peers' closes (their FIN, read on its next turn). */
const SETTLE_MS = 5_000;

/**
 * The server's figures once only the control client is connected, or at SETTLE_MS: the last
 * peers were let go a moment before, and a count read at once could catch a close the server has
 * not read yet. A connection it keeps for good is still counted at the end.
 */
async function settledStats(control: ClientStream): Promise<ServerStats | undefined> {
  let last: ServerStats | undefined;
  const deadline = Date.now() + SETTLE_MS;
  do {
    last = await fetchStats(control).catch(() => undefined);
    if (last === undefined || last.connections === 1) return last;
    await sleep(50);
  } while (Date.now() < deadline);
  return last;
}

/** The control client's call: an echo of a payload that names the call, checked byte for byte. */
async function echoCheck(control: ClientStream, n: number): Promise<void> {
  const msg = new TextEncoder().encode(`control call ${n}`);
  const reply = await control.call(ACTION.echo, msg);
  if (Buffer.compare(reply.msg, msg) !== 0) throw new Error(`echo of call ${n} came back changed`);
}

/** Samples the server's memory every 250 ms while `going()`, keeping the highest figures. */
async function sample(control: ClientStream, max: { rss: number; arrayBuffers: number }, going: () => boolean): Promise<void> {
  while (going()) {
    await sleep(250);
    const s = await fetchStats(control).catch(() => undefined);
    if (!s) continue;
    max.rss = Math.max(max.rss, s.rss);
    max.arrayBuffers = Math.max(max.arrayBuffers, s.arrayBuffers);
  }
}

/** Waits (at most `ms`) for the server to close each peer; returns how many it left open. */
async function closedWithin(peers: readonly RawSocket[], ms: number): Promise<number> {
  await holdsWithin(() => peers.every((p) => p.peerClosed), ms);
  return peers.filter((p) => !p.peerClosed).length;
}

function report(o: FuzzOptions, c: Claims, f: FloodSeen, after: ServerStats | undefined, server: ServerProcess): ScenarioReport {
  const t = f.tally;
  const claimBound = o.claims * heldFor(c.sent / Math.max(1, o.claims)) + CHURN;
  const claimHeld = c.during.arrayBuffers - c.before.arrayBuffers;
  const rssBound = f.baseline.rss + HEADROOM + o.connections * heldFor(t.largestPeer);
  const alive = server.proc.child.exitCode === null && server.proc.child.signalCode === null && after !== undefined;
  const checks: Check[] = [
    check('fuzzed frames sent', t.frames >= o.frames, `${t.frames} of ${o.frames} in ${f.seconds.toFixed(1)} s`),
    check('server alive and answering at the end', alive, alive ? 'yes' : 'no'),
    check('control client calls, none failed', f.control.ok > 0 && f.control.failed === 0, `${f.control.ok} ok, ${f.control.failed} failed (${errorSummary(f.control.errors)})`),
    none('bad connections the server left open', t.leftOpen, `of ${t.connections}`),
    none('bad connections closed before every answer owed', t.answersMissing, `of ${t.connections}${t.answersMissing ? ` (${listed(t.missingBy)})` : ''}`),
    none('bad connections answered more than they asked', t.answersExtra, `of ${t.connections}`),
    check('server connections after the run (the control client only)', after?.connections === 1, String(after?.connections)),
    check('server RSS within its bound', f.rssMax <= rssBound, `${mib(f.rssMax)} (bound ${mib(rssBound)})`),
    check('memory held for huge claimed lengths: what was sent, not what was claimed', claimHeld <= claimBound, `${mib(claimHeld)} for ${mib(c.claimed)} claimed, ${c.sent} B sent (bound ${mib(claimBound)})`),
    none('claiming peers left open after they ended', c.leftOpen, `of ${o.claims}`),
  ];
  return {
    scenario: 'fuzz',
    figures: [
      ['frames sent', t.frames],
      ['connections', t.connections],
      ['last frames', listed(t.byTerminal)],
      ['frames per second', Math.round(t.frames / f.seconds)],
      ['control calls', `${f.control.ok} ok, ${f.control.failed} failed`],
      ['server RSS', `${mib(f.baseline.rss)} before, ${mib(f.rssMax)} at most`],
      ['server ArrayBuffers', `${mib(f.baseline.arrayBuffers)} before, ${mib(f.arrayBuffersMax)} at most`],
      ['claims', `${o.claims} peers claimed ${mib(c.claimed)} and sent ${c.sent} B; server held ${mib(claimHeld)} more; ${c.closedEarly} closed before they ended`],
    ],
    checks,
  };
}
