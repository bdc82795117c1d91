import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeNeeding, makeTestCerts, muteServer, within, type MuteServer, type MuteServerOptions, type TestCerts } from '@skein/test-utils';
import { launch, reap, type RuntimeName } from './runtimes.js';
import { fileURLToPath } from 'node:url';

/*
 * TransportConnectOptions.signal, for every transport of this repository on every runtime: a
 * connect that hangs (a TLS handshake, a WebSocket upgrade the server never answers) is given
 * up at the abort with Cancelled, and its socket let go (the server sees it close, the client's
 * process exits by itself); one whose signal aborted already never dials. The connects have a
 * minute's timeout, past every bound here: a transport that ignores the signal fails.
 */
const START_MS = 60_000;
const HANG_MS = 20_000;

const FIXTURE = fileURLToPath(new URL('./fixtures/connect-abort.mjs', import.meta.url));

let certs: TestCerts | undefined;
beforeAll(() => {
  certs = makeTestCerts();
  // The child reads the CA from here (src/tls.mjs), as the matrix's TLS rows do.
  process.env.SKEIN_TLS_DIR = certs.dir;
});
afterAll(() => certs?.remove());

interface Hang {
  what: string;
  kind: 'tcp' | 'ws';
  server: () => MuteServerOptions;
  /** The address the child dials, from the mute server's. */
  dial: (address: string) => string;
  /** Runtimes whose client cannot dial this at all, and why. */
  gaps?: Partial<Record<RuntimeName, string>>;
}

const NO_UNIX_WS = { bun: 'the standard WebSocket API (the ws client on Bun) cannot dial a Unix socket' };

const HANGS: readonly Hang[] = [
  { what: 'a TLS handshake the server never answers (tls://)', kind: 'tcp', server: () => ({}), dial: (a) => `tls://${a}` },
  { what: 'a TLS handshake the server never answers on a Unix socket (tls+unix:)', kind: 'tcp', server: () => ({ unix: true }), dial: (a) => `tls+${a}`, gaps: { deno: "Deno's TLS runs over TCP only: its connect refuses tls+unix: with InvalidArgument" } },
  { what: 'a WebSocket upgrade the server never answers (ws://)', kind: 'ws', server: () => ({}), dial: (a) => a },
  { what: 'a WebSocket upgrade the server never answers on a Unix socket', kind: 'ws', server: () => ({ unix: true }), dial: (a) => a, gaps: NO_UNIX_WS },
  { what: 'a TLS handshake the server never answers (wss://)', kind: 'ws', server: () => ({}), dial: (a) => `wss://${a}` },
  { what: 'a WebSocket upgrade the server never answers after its TLS handshake (wss://)', kind: 'ws', server: () => ({ tls: certs!.server }), dial: (a) => `wss://${a}` },
];

const RUNTIMES: readonly RuntimeName[] = ['node', 'bun', 'deno'];
const binariesOf = (r: RuntimeName): string[] => (r === 'node' ? [] : [r]);

/**
 * Runs the fixture: `pre` aborts before the connect; given `mute`, the child's signal aborts once
 * that server has the connection (SIGUSR2 tells it), so the abort finds the connect hanging.
 */
async function run(runtime: RuntimeName, kind: 'tcp' | 'ws', address: string, mute?: MuteServer, when: 'pre' | 'pre-bad-tls' = 'pre'): Promise<{ line: string; code: number | string }> {
  const child = launch(runtime, FIXTURE, [kind, address, mute ? 'usr2' : when]);
  try {
    await child.waitForLine(/^connecting$/, START_MS);
    if (mute) {
      await mute.acceptedAtLeast(1);
      child.kill('SIGUSR2');
    }
    // Well within the connect's minute: a connect the abort did not end is still hanging then.
    const [line] = await child.waitForLine(/^(connected|connect-error .*)$/, HANG_MS);
    return { line: line!, code: await within(child.exited, HANG_MS, `the ${runtime} child to exit by itself`) };
  } finally {
    await reap(child);
  }
}

for (const runtime of RUNTIMES) {
  describeNeeding(binariesOf(runtime), `${runtime}: a connect's signal`, () => {
    for (const { what, kind, server, dial, gaps } of HANGS) {
      const gap = gaps?.[runtime];
      if (gap) {
        it.skip(`aborts ${what} (skipped: ${gap})`, () => {});
        continue;
      }
      it(`aborts ${what} at once with Cancelled, closing the socket`, async () => {
        const mute: MuteServer = await muteServer(server());
        const { line, code } = await run(runtime, kind, dial(mute.address), mute);
        expect(line).toMatch(/^connect-error Cancelled cause=given up connect to \S+ aborted$/);
        expect(code).toBe(0);
        await mute.allClosed();
      }, START_MS + HANG_MS);
    }

    for (const [kind, unix] of [['tcp', false], ['tcp', true], ['ws', false]] as const) {
      it(`a ${kind} connect${unix ? ' to a Unix socket' : ''} whose signal aborted already rejects with Cancelled, dialling nothing`, async () => {
        const mute = await muteServer({ unix });
        const { line, code } = await run(runtime, kind, mute.address);
        expect(line).toMatch(/^connect-error Cancelled cause=given up connect to \S+ aborted$/);
        expect(code).toBe(0);
        expect(mute.accepted).toBe(0);
      }, START_MS + HANG_MS);
    }

    for (const [kind, scheme] of [['tcp', 'tls'], ['ws', 'wss']] as const) {
      it(`a ${kind} connect whose TLS options are wrong rejects with InvalidArgument even when its signal aborted already, dialling nothing`, async () => {
        const mute = await muteServer({});
        const { line, code } = await run(runtime, kind, `${scheme}://${mute.address}`, undefined, 'pre-bad-tls');
        expect(line).toMatch(/^connect-error InvalidArgument cause=undefined .*minVersion/);
        expect(code).toBe(0);
        expect(mute.accepted).toBe(0);
      }, START_MS + HANG_MS);
    }
  });
}
