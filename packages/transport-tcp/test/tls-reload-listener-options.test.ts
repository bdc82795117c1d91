import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseAddress, type Address } from '@skein/core';
import { cleanups, describeNeeding, launch, reap, servedCommonName, suiteCerts, testTls, within, type Proc, type RuntimeName } from '@skein/test-utils';
import { expect, it } from 'vitest';

/*
 * What a TLS listener serves after Transport.reloadTls is what a listen opened then would serve
 * (core's TransportTls gives every listener the options the transport holds, whole), checked by
 * real handshakes with Node's TLS client against the tcp transport on each runtime, in a child.
 */

const fixture = fileURLToPath(new URL('./fixtures/reload-listener-options.mjs', import.meta.url));
const packageFile = (file: string): string => fileURLToPath(new URL(`../../${file}`, import.meta.url));
const tlsArg = (tls: object): string => btoa(JSON.stringify(tls));
const HANG_MS = 60_000;

const RUNTIMES = {
  node: ['runtime-node/dist/index.js', 'nodeRuntime', 'transport-tcp/dist/index.js'],
  bun: ['runtime-bun/src/index.ts', 'bunRuntime', 'transport-tcp/src/index.ts'],
  deno: ['runtime-deno/src/index.ts', 'denoRuntime', 'transport-tcp/src/index.ts'],
} as const satisfies Record<RuntimeName, readonly [string, string, string]>;

interface Run {
  readonly child: Proc;
  readonly open: Address;
  readonly fresh: Address;
  /** The fixture's other lines by their first word (`failed-reload`, `listens-during-reload`): the rest of the line. */
  readonly said: Record<string, string>;
}

/** The fixture on `runtime` with `args` after the modules, until it says `done`. */
async function run(runtime: RuntimeName, args: string[], cleanup: (() => unknown)[], denoPermissions?: string[]): Promise<Run> {
  const [runtimeModule, runtimeExport, transportModule] = RUNTIMES[runtime];
  const child = launch(runtime, fixture, [packageFile(runtimeModule), runtimeExport, packageFile(transportModule), ...args], denoPermissions && { denoPermissions });
  cleanup.push(() => reap(child));
  await child.waitForLine(/^(done|scenario-error .*)$/, HANG_MS);
  expect(child.lines.at(-1)).toBe('done');
  const said = Object.fromEntries(child.lines.map((line) => [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)]));
  const at = (name: string): Address => parseAddress(/^listening \S+ (\S+)$/.exec(child.lines.find((l) => l.startsWith(`listening ${name} `))!)![1]!);
  return { child, open: at('open'), fresh: at('fresh'), said };
}

/** A TLS connection to `address` with `client`'s options, which the server ends (a failed handshake, or a close after it) before it sends a byte. */
async function closedByServer(address: Address, ca: string, client: tls.ConnectionOptions, cleanup: (() => unknown)[]): Promise<void> {
  const at = 'path' in address ? { path: address.path } : { host: address.host, port: address.port };
  const socket = tls.connect({ ...at, ca, servername: 'localhost', ...client });
  cleanup.push(() => socket.destroy());
  const ended = new Promise<string>((resolve) => {
    socket.once('data', () => resolve('data'));
    socket.once('error', () => resolve('closed'));
    socket.once('close', () => resolve('closed'));
  });
  expect(await within(ended, HANG_MS, 'the server\'s close of a client it does not trust')).toBe('closed');
}

/** A port on 127.0.0.2 that was free a moment ago. */
function freePortOn127002(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().on('error', reject);
    srv.listen(0, '127.0.0.2', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

for (const runtime of ['node', 'bun'] as const) {
  describeNeeding(runtime === 'node' ? [] : [runtime], `tcp on ${runtime}: a reload of the certificate alone`, () => {
    const certs = suiteCerts();
    const { mtls } = testTls(certs);
    const cleanup = cleanups();

    it('an mTLS listener open at a reload of cert and key only still asks for a client certificate from its CA, as a fresh listen does', async () => {
      const { open, fresh } = await run(runtime, [tlsArg(mtls()), tlsArg(certs.reloaded)], cleanup);
      // TLS 1.2: the server's refusal of a client without a certificate ends the handshake itself.
      const tls12 = { maxVersion: 'TLSv1.2' } as const;
      for (const listener of [open, fresh]) {
        expect(await servedCommonName(listener, certs.ca, cleanup, { ...tls12, ...certs.client })).toBe('reloaded');
        await expect(servedCommonName(listener, certs.ca, cleanup, tls12)).rejects.toThrow();
        // A certificate its CA does not vouch for: the handshake ends, and the server closes it unserved.
        await closedByServer(listener, certs.ca, { ...tls12, ...certs.foreign }, cleanup);
      }
    }, 90_000);
  });
}

for (const runtime of ['bun', 'deno'] as const) {
  describeNeeding([runtime], `tcp on ${runtime}: the trial listeners of a reload`, () => {
    const certs = suiteCerts();
    const { serverTls } = testTls(certs);
    const cleanup = cleanups();

    // Bun and Deno cannot change a listener's certificate: a trial listener loads the new pair, then
    // the listener is opened again. The listener's trial loads the pair: none is made for connects too.
    it('a reload with one listener open makes one trial listener beside the listener opened again', async () => {
      const { said, open } = await run(runtime, [tlsArg(serverTls()), tlsArg(certs.reloaded)], cleanup);
      expect(said['listens-during-reload']).toBe('2');
      expect(await servedCommonName(open, certs.ca, cleanup)).toBe('reloaded');
    }, 90_000);
  });
}

describeNeeding(['deno'], 'tcp on deno: a reload after one that failed at a second listener', () => {
  const certs = suiteCerts();
  const { serverTls } = testTls(certs);
  const cleanup = cleanups();

  it('every listener serves what a fresh listen would, not the failed reload\'s certificate', async () => {
    // Deno may listen on 127.0.0.2 at that port only (read: the fixture imports the modules named): the
    // second listener's trial listener (port 0) is refused, so the first reload changes the first
    // listener, then fails at the second.
    const port = await freePortOn127002();
    const { said, open, fresh } = await run('deno', [tlsArg(serverTls()), tlsArg({ ca: certs.ca }), tlsArg(certs.reloaded), `127.0.0.2:${port}`], cleanup, ['--allow-read', `--allow-net=127.0.0.1,127.0.0.2:${port}`]);
    expect(said['failed-reload']).toBe('IO');
    expect(await servedCommonName(fresh, certs.ca, cleanup)).toBe('localhost');
    expect(await servedCommonName(open, certs.ca, cleanup)).toBe('localhost');
  }, 90_000);
});
