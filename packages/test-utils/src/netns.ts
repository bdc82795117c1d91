import { execFileSync } from 'node:child_process';
import { startProcess, type Proc } from './process.js';

/** One host of a NetLab: a network namespace with one link to the lab's switch. */
export interface NetHost {
  readonly name: string;
  /** The namespace (`ip netns`) the host's processes run in. */
  readonly ns: string;
  /** Its own address on the lab's network. */
  readonly address: string;
  /** Starts a process inside the host (killed when the test process exits, as every startProcess). */
  start(cmd: string, args: string[], env?: Record<string, string>): Proc;
  /** Takes the host's link down at the switch: its packets are dropped, silently (no reset). */
  linkDown(): void;
  linkUp(): void;
  /** Drops what this host sends to `other` (a one-way route to nowhere): a partition between two hosts only. */
  cutFrom(other: NetHost): void;
  healFrom(other: NetHost): void;
}

/** Hosts on one switch, each in its own namespace; nothing outside the lab is touched. */
export interface NetLab {
  readonly hosts: Record<string, NetHost>;
  /** Deletes every namespace of the lab (their processes' sockets go with them). Safe to call twice. */
  close(): void;
}

/**
 * Why network namespaces cannot be made here, or undefined when they can: they need root (or
 * CAP_NET_ADMIN and CAP_SYS_ADMIN) and the `ip` tool. Tests skip with this reason.
 */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces are Linux only (this is ${process.platform})`;
  const probe = `skprobe${process.pid}`;
  try {
    ip(['netns', 'add', probe]);
  } catch (err) {
    return `cannot create a network namespace (needs root or CAP_NET_ADMIN and the ip tool): ${firstLine(err)}`;
  }
  try {
    // A lab also needs veth pairs and a bridge, which a kernel or container may lack.
    ip(['-n', probe, 'link', 'add', 'skva', 'type', 'veth', 'peer', 'name', 'skvb']);
    ip(['-n', probe, 'link', 'add', 'skbr', 'type', 'bridge']);
    return undefined;
  } catch (err) {
    return `cannot make veth pairs or bridges in a network namespace: ${firstLine(err)}`;
  } finally {
    try {
      ip(['netns', 'del', probe]);
    } catch {}
  }
}

/**
 * Builds a lab: a switch (a bridge in its own namespace) and one namespace per host, each joined
 * to the switch by a veth pair and given 10.<a>.<b>.<n>/24, a subnet drawn at random so that
 * parallel labs do not meet. Built whole or not at all: a failure removes what was made.
 */
export function startNetLab(names: readonly string[]): NetLab {
  if (names.length === 0 || names.length > 200) throw new Error(`a lab has 1..200 hosts, not ${names.length}`);
  const tag = `sk${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const subnet = `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
  const made: string[] = [];
  const close = (): void => {
    for (const ns of made.splice(0).reverse()) {
      try {
        ip(['netns', 'del', ns]);
      } catch {}
    }
  };
  try {
    const sw = `${tag}-sw`;
    ip(['netns', 'add', sw]);
    made.push(sw);
    ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', sw, 'link', 'set', 'br0', 'up']);
    const hosts: Record<string, NetHost> = {};
    names.forEach((name, i) => {
      const ns = `${tag}-${i}`;
      ip(['netns', 'add', ns]);
      made.push(ns);
      const port = `p${i}`;
      ip(['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', sw]);
      ip(['-n', sw, 'link', 'set', port, 'master', 'br0', 'up']);
      const address = `${subnet}.${i + 1}`;
      ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      hosts[name] = {
        name,
        ns,
        address,
        start: (cmd, args, env) => startProcess('ip', ['netns', 'exec', ns, cmd, ...args], env),
        linkDown: () => ip(['-n', sw, 'link', 'set', port, 'down']),
        linkUp: () => ip(['-n', sw, 'link', 'set', port, 'up']),
        cutFrom: (other) => ip(['-n', ns, 'route', 'add', 'blackhole', `${other.address}/32`]),
        healFrom: (other) => ip(['-n', ns, 'route', 'del', 'blackhole', `${other.address}/32`]),
      };
    });
    // A failing test must not leave namespaces behind: close on exit too (close is idempotent).
    process.once('exit', close);
    return { hosts, close };
  } catch (err) {
    close();
    throw err;
  }
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function firstLine(err: unknown): string {
  const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
  return (stderr || (err as Error).message).split('\n')[0]!;
}
