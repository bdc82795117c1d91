import { fileURLToPath } from 'node:url';
import { reap } from './launch.js';
import { startProcess } from './process.js';

const SCRIPT = fileURLToPath(new URL('../fixtures/tcp-relay-process.mjs', import.meta.url));

/** A throttled TcpRelay running in a child process: what a client connects to, and how to stop it. */
export interface TcpRelayProcess {
  /** `127.0.0.1:<port>`, what a client connects to instead of the target. */
  readonly address: string;
  /** Kills the relay (every connection it relays is reset) and waits for it to be gone. */
  close(): Promise<void>;
}

/**
 * A slow but steady link to `target` (every connection at about `bytesPerSecond` each way, as
 * `startTcpRelay`'s `bytesPerSecond`) whose pace the test's own process cannot hold up: the
 * relay runs in a Node process of its own. In the test's process, a link that must keep moving
 * stops whenever that process's event loop does: a client there assembling a 48 MiB reply (a
 * copy into memory of its size) held it for 0.2 s alone and 1 to 2.5 s on a loaded 2-core box,
 * and a server judging its reader by the bytes its kernel took saw a reader that took none.
 * Node runs the relay from test-utils' dist/ (`pnpm build` first).
 */
export async function startTcpRelayProcess(target: string, bytesPerSecond: number, timeoutMs = 20_000): Promise<TcpRelayProcess> {
  const proc = startProcess(process.execPath, [SCRIPT, target, String(bytesPerSecond)]);
  try {
    const [, address] = await proc.waitForLine(/^listening (\S+)/, timeoutMs);
    return { address: address!, close: () => reap(proc) };
  } catch (err) {
    await reap(proc);
    throw err;
  }
}
