import { fileURLToPath } from 'node:url';
import { cleanups, describeNeeding, waitFor, within, type Proc } from '@skein/test-utils';
import { expect, it } from 'vitest';
import { launch, reap, type RuntimeName } from './runtimes.js';

/*
 * A ConnPool on Bun and on Deno through a kill -9 of its server and a restart on the same port
 * (the other runtime's server: its listen must take the port back while the old connections
 * linger in TIME_WAIT). The pool finds the new server through its backoff, the calls that waited
 * meanwhile get answers, none runs twice, one that fails says it may have run (IO on the dead
 * connection, `retry: 'idempotent'`), never that it did not; after close() the client's
 * process exits by itself. The Node pool's side of this is the stream package's own tests.
 */
const CLIENT = fileURLToPath(new URL('./fixtures/pool-restart-client.mjs', import.meta.url));
const SERVER = fileURLToPath(new URL('./fixtures/recording-server.mjs', import.meta.url));
const BOUND_MS = 20_000;
/** Calls each server runs before the test moves on: enough to be sure calls flow. */
const RUNS = 20;

const cleanup = cleanups();

function started(runtime: RuntimeName, script: string, args: string[]): Proc {
  const proc = launch(runtime, script, args);
  cleanup.push(() => reap(proc));
  return proc;
}

const ranIds = (server: Proc): string[] => server.lines.flatMap((l) => (l.startsWith('ran ') ? [l.slice(4)] : []));
const ranAtLeast = (server: Proc, n: number, what: string): Promise<unknown> => waitFor(() => ranIds(server).length >= n, { timeoutMs: BOUND_MS, what });

const PAIRS: readonly { client: RuntimeName; server: RuntimeName }[] = [
  { client: 'bun', server: 'deno' },
  { client: 'deno', server: 'bun' },
];

for (const { client, server } of PAIRS) {
  describeNeeding([client, server], `a ${client} pool, its ${server} server killed and restarted on the same port`, () => {
    it('reconnects: no call runs twice, none fails as never run, and the process exits by itself after close()', async () => {
      const first = started(server, SERVER, ['127.0.0.1:0']);
      const [, address] = await first.waitForLine(/^listening (\S+) runtime=/, BOUND_MS);
      const caller = started(client, CLIENT, [address!]);
      await ranAtLeast(first, RUNS, 'the first server to run calls');
      first.kill('SIGKILL');
      await first.exited;

      const second = started(server, SERVER, [address!]);
      await second.waitForLine(/^listening /, BOUND_MS);
      await ranAtLeast(second, RUNS, 'the pool to call the restarted server');
      caller.kill('SIGUSR2');
      const [, json] = await caller.waitForLine(/^result (.*)$/, BOUND_MS);
      expect(await within(caller.exited, BOUND_MS, `the ${client} client to exit by itself`)).toBe(0);
      expect(caller.lines.at(-1)).toBe('closed');

      const { ok, failed } = JSON.parse(json!) as { ok: string[]; failed: Record<string, string> };
      const ran = [...ranIds(first), ...ranIds(second)];
      expect(ran.length - new Set(ran).size).toBe(0); // none ran twice
      expect(ok.filter((id) => !ran.includes(id))).toEqual([]); // every answer is a run
      // Only the calls on the connection the kill cut (one per loop at most) may fail, and as "may have run".
      expect(Object.values(failed).filter((why) => why !== 'IO idempotent')).toEqual([]);
      expect(Object.keys(failed).length).toBeLessThanOrEqual(4);
    }, 3 * BOUND_MS);
  });
}
