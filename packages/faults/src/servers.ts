import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { launch, reap, within, type NetHost, type Proc } from '@skein/test-utils';
import { ACTION, CLOSED, LISTENING, type ServerParams, type ServerStats } from './server-params.js';

/**
 * The built fault server: Node runs what it imports as built (dist/), so the scenarios need
 * `pnpm build` first. One level up from here is the package, from src/ and dist/ alike.
 */
const SCRIPT = fileURLToPath(new URL('../dist/fault-server.js', import.meta.url));

/** A fault server child, seen from the scenario that started it. */
export interface ServerProcess {
  readonly name: string;
  readonly address: string;
  readonly proc: Proc;
  /** Its execution log, when it keeps one. */
  readonly executions: string | undefined;
}

/** How a server ended after SIGTERM. */
export interface Stopped {
  /** It printed what it left behind, then exited by itself: nothing was left to keep it alive. */
  readonly exitedByItself: boolean;
  /** Handles it left behind after closing, by kind (empty when none). */
  readonly handles: Record<string, number>;
}

/** Starts a fault server on this machine, or inside a NetLab `host` (then it should listen on the host's address). */
export async function startServer(params: ServerParams, host?: NetHost): Promise<ServerProcess> {
  const args = [JSON.stringify(params)];
  const proc = host ? host.start(process.execPath, [SCRIPT, ...args]) : launch('node', SCRIPT, args);
  const [, address] = await proc.waitForLine(LISTENING);
  return { name: params.name, address: address!, proc, executions: params.executions };
}

/**
 * SIGTERM, then waits for the server to close and to exit on its own. One that does not within
 * `graceMs` (a handle keeps it alive) is killed, and says so.
 */
export async function stopServer(s: ServerProcess, graceMs = 20_000): Promise<Stopped> {
  if (s.proc.child.exitCode !== null || s.proc.child.signalCode !== null) return { exitedByItself: false, handles: {} };
  s.proc.kill('SIGTERM');
  let handles: Record<string, number> = {};
  try {
    handles = JSON.parse((await s.proc.waitForLine(CLOSED, graceMs))[1]!) as Record<string, number>;
    await within(s.proc.exited, graceMs, `${s.name} exit`);
    return { exitedByItself: s.proc.child.exitCode === 0, handles };
  } catch {
    await reap(s.proc);
    return { exitedByItself: false, handles };
  }
}

/** Anything with a `call`: a ClientStream or a pool. */
interface Calls {
  call(action: string, msg?: Uint8Array): Promise<{ msg: Uint8Array }>;
}

export async function fetchStats(caller: Calls, action: string = ACTION.stats): Promise<ServerStats> {
  const reply = await caller.call(action);
  return JSON.parse(new TextDecoder().decode(reply.msg)) as ServerStats;
}

/**
 * A server's stats over a connection of its own, closed after: nothing of a pool's stays behind.
 * `afterGc`: after a full collection in the server, for memory held rather than garbage.
 */
export async function statsAt(address: string, { afterGc = false } = {}): Promise<ServerStats> {
  const conn = await ClientStream.connect({ transport: tcpTransport(nodeRuntime), address, timeoutMs: 5000 });
  try {
    return await fetchStats(conn, afterGc ? ACTION.statsAfterGc : ACTION.stats);
  } finally {
    await conn.close();
  }
}

/** A temporary directory for execution logs; `remove()` when done. */
export function scratchDir(): { dir: string; file(name: string): string; read(name: string): string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skein-faults-'));
  return {
    dir,
    file: (name) => path.join(dir, name),
    read: (name) => {
      try {
        return readFileSync(path.join(dir, name), 'utf8');
      } catch {
        return '';
      }
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
