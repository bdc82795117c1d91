import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeStablePort } from './ports.js';
import { startProcess, type Proc } from './process.js';
import { sleep } from './wait.js';
import type { NetHost } from './netns.js';

/** One etcd member on loopback, with its own data dir; it can be stopped and started again. */
export interface EtcdMember {
  readonly name: string;
  /** `http://127.0.0.1:<port>`, what an etcd client connects to. */
  readonly clientUrl: string;
  readonly dataDir: string;
  /** The running process, or undefined while stopped. */
  readonly proc: Proc | undefined;
  /** Stops the member (SIGTERM by default; SIGKILL for a crash) and waits for it to be gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports and data, and waits until it serves. */
  start(): Promise<void>;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Every member's client URL. */
  readonly endpoints: string[];
  /** Stops every member and removes the data dirs. */
  close(): Promise<void>;
}

export interface StartEtcdOptions {
  /** 1 (default) or 3. */
  members?: 1 | 3;
  /** The etcd binary: `$SKEIN_ETCD`, else `etcd` on PATH. */
  binary?: string;
  /** Runs the members on this NetLab host (its address, inside its namespace) instead of loopback. */
  host?: Pick<NetHost, 'address' | 'start'>;
  /** More flags for every member, e.g. `['--max-request-bytes', '10485760']`. */
  args?: string[];
}

/**
 * Starts a fresh etcd (one member or a 3-member cluster) on free loopback ports with temporary
 * data dirs, and waits until every member answers `/health`. For tests and benchmarks that need
 * a real etcd; `.ci/run` installs Debian's `etcd-server` when it is missing.
 */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const binary = opts.binary ?? process.env.SKEIN_ETCD ?? 'etcd';
  if (!etcdAvailable(binary)) throw new Error(`no etcd binary '${binary}': install Debian's etcd-server (.ci/run does) or set SKEIN_ETCD`);
  // A free port is free when asked, not when etcd binds it: under a parallel test run another
  // process's socket may take it meanwhile (seen in CI: "bind: address already in use"). Such a
  // start is tried again on fresh ports; any other failure is the test's.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePorts(binary, opts);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test(String((err as Error).message))) throw err;
    }
  }
}

async function startOnFreePorts(binary: string, opts: StartEtcdOptions): Promise<EtcdCluster> {
  const count = opts.members ?? 1;
  const token = `skein-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const specs = [];
  for (let i = 0; i < count; i++) {
    specs.push({
      name: `etcd${i}`,
      client: `http://${opts.host?.address ?? '127.0.0.1'}:${await freeStablePort()}`,
      peer: `http://${opts.host?.address ?? '127.0.0.1'}:${await freeStablePort()}`,
      dataDir: mkdtempSync(path.join(os.tmpdir(), `skein-etcd${i}-`)),
    });
  }
  const initialCluster = specs.map((s) => `${s.name}=${s.peer}`).join(',');
  const members = specs.map((s) => {
    const args = [
      '--name', s.name,
      '--data-dir', s.dataDir,
      '--listen-client-urls', s.client,
      '--advertise-client-urls', s.client,
      '--listen-peer-urls', s.peer,
      '--initial-advertise-peer-urls', s.peer,
      '--initial-cluster', initialCluster,
      '--initial-cluster-token', token,
      '--initial-cluster-state', 'new',
      '--logger', 'zap',
      '--log-level', 'warn',
      ...(opts.args ?? []),
    ];
    return new LocalEtcdMember(binary, s.name, s.client, s.dataDir, args, opts.host);
  });
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    async close() {
      await Promise.all(members.map((m) => m.stop('SIGKILL')));
      for (const m of members) rmSync(m.dataDir, { recursive: true, force: true });
    },
  };
  try {
    // Members of a new cluster wait for each other: start them all, then wait for each.
    await Promise.all(members.map((m) => m.start()));
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

/** Whether an etcd binary can be run here. */
export function etcdAvailable(binary = process.env.SKEIN_ETCD ?? 'etcd'): boolean {
  try {
    execFileSync(binary, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

class LocalEtcdMember implements EtcdMember {
  proc: Proc | undefined;

  constructor(
    private readonly binary: string,
    readonly name: string,
    readonly clientUrl: string,
    readonly dataDir: string,
    private readonly args: string[],
    private readonly host: StartEtcdOptions['host'],
  ) {}

  async start(): Promise<void> {
    if (this.proc) return;
    const proc = this.host ? this.host.start(this.binary, this.args) : startProcess(this.binary, this.args);
    this.proc = proc;
    await waitHealthy(this.clientUrl, proc, this.host);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.kill(signal);
    await proc.exited;
  }
}

/** Polls `/health` until the member says it is healthy (it has a leader); fails if it exits. */
async function waitHealthy(clientUrl: string, proc: Proc, host: StartEtcdOptions['host'], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | string | undefined;
  void proc.exited.then((code) => (exited = code));
  for (;;) {
    if (exited !== undefined) throw new Error(`etcd at ${clientUrl} exited (${exited}):\n${proc.lines.join('\n')}`);
    if (host ? await healthyFrom(host, clientUrl) : await healthy(clientUrl)) return;
    if (Date.now() > deadline) throw new Error(`etcd at ${clientUrl} not healthy after ${timeoutMs} ms:\n${proc.lines.join('\n')}`);
    await sleep(50);
  }
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`);
    const body = (await res.json()) as { health?: string };
    return body.health === 'true';
  } catch {
    return false; // not listening yet
  }
}

/** The same question, asked from inside the host's namespace (the test process is outside it). */
async function healthyFrom(host: NonNullable<StartEtcdOptions['host']>, clientUrl: string): Promise<boolean> {
  const script = `fetch(${JSON.stringify(`${clientUrl}/health`)}).then((r) => r.json()).then((b) => process.exit(b.health === 'true' ? 0 : 1), () => process.exit(1))`;
  return (await host.start(process.execPath, ['-e', script]).exited) === 0;
}

/**
 * A member of a running cluster that is not its leader: stalling or stopping one leaves the others
 * a quorum without an election. Asked through each member's JSON gateway (`/v3/maintenance/status`),
 * so that this package needs no etcd client. Started on loopback only.
 */
export async function etcdFollower(cluster: EtcdCluster): Promise<EtcdMember> {
  for (const m of cluster.members) {
    const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}' });
    const s = (await res.json()) as { header: { member_id: string }; leader: string };
    if (s.leader !== s.header.member_id) return m;
  }
  throw new Error('no follower among the members');
}
