import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCode, parseAddress, type Runtime } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { cleanups, describeNeeding, launch, reap, servedCommonName, tmpSocketPath, suiteCerts, testTls, tlsReloadDuringListenConformance, type RuntimeName } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { tcpTransport } from '../src/index.js';
import { spec } from './spec.js';

// reloadTls and a listen under way at once, over real TLS sockets (Node's runtime).
tlsReloadDuringListenConformance({ name: 'tcp', transport: (tls) => tcpTransport(nodeRuntime, { tls }), spec });

/** Node's runtime as one whose listeners cannot change their certificate (reloadTls is optional in the contract). */
const fixedCertRuntime: Runtime = {
  ...nodeRuntime,
  async listen(address, accept, options) {
    const l = await nodeRuntime.listen(address, accept, options);
    return { address: l.address, close: () => l.close() };
  },
};

describe('tcp: a reload while a listen opens, on a runtime whose listeners keep their certificate', () => {
  const certs = suiteCerts();
  const { serverTls } = testTls(certs);

  it('the listen is refused InvalidArgument and its listener closed, rather than left serving the old certificate', async () => {
    const t = tcpTransport(fixedCertRuntime, { tls: serverTls() });
    const listening = t.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => void conn.close());
    // No listener yet: the reload applies, for later connects and listens.
    await t.reloadTls(certs.reloaded);
    await expect(listening).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/cannot change a TLS listener's certificate/) });
    // A later listen opens with the reloaded options, and reloads are refused while it is open.
    const l = await t.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => void conn.close());
    await expect(t.reloadTls({ ca: certs.ca })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await l.close();
    // The refused listener is no longer the transport's: with none open, a reload applies.
    await t.reloadTls({ ca: certs.ca });
  });
});

const fixture = fileURLToPath(new URL('./fixtures/reload-during-listen.mjs', import.meta.url));
const packageFile = (file: string): string => fileURLToPath(new URL(`../../${file}`, import.meta.url));
const tlsArg = (tls: object): string => btoa(JSON.stringify(tls));

/**
 * The same through the tcp transport on each runtime, in a child running it: the reload reaches
 * the listener by that runtime's listener's reloadTls (Bun and Deno open the listener again, after
 * a trial listener loads the new pair). Bun and Deno bind a TCP listener at once, so a reload
 * lands after its listen resolved; a Unix listen first looks at its path, so a reload lands while
 * it opens (Node and Bun: Deno has no TLS on Unix sockets). Node loads the built packages.
 */
for (const [runtime, modules, unix] of [
  ['node', ['runtime-node/dist/index.js', 'nodeRuntime', 'transport-tcp/dist/index.js'], true],
  ['bun', ['runtime-bun/src/index.ts', 'bunRuntime', 'transport-tcp/src/index.ts'], true],
  ['deno', ['runtime-deno/src/index.ts', 'denoRuntime', 'transport-tcp/src/index.ts'], false],
] as const satisfies readonly (readonly [RuntimeName, readonly [string, string, string], boolean])[]) {
  describeNeeding(runtime === 'node' ? [] : [runtime], `tcp on ${runtime}: reloadTls and a listen at once`, () => {
    const certs = suiteCerts();
    const { serverTls } = testTls(certs);
    const cleanup = cleanups();

    it('every listen serves the reloaded certificate, whether the reload came before it or while it opened', async () => {
      const [runtimeModule, runtimeExport, transportModule] = modules;
      const prefix = tmpSocketPath('reload');
      const args = [packageFile(runtimeModule), runtimeExport, packageFile(transportModule), tlsArg(serverTls()), tlsArg(certs.reloaded), ...(unix ? [prefix] : [])];
      // The socket files a killed child leaves, removed after it.
      cleanup.push(() => { for (let n = 0; n < 6; n++) rmSync(`${prefix}-${n}.sock`, { force: true }); });
      const child = launch(runtime, fixture, args);
      cleanup.push(() => reap(child));
      await child.waitForLine(/^(done|scenario-error .*)$/, 60_000);
      expect(child.lines.at(-1)).toBe('done');
      const listens = child.lines.flatMap((line) => {
        const m = /^listening (\S+) (\S+)$/.exec(line);
        return m ? [{ name: m[1]!, address: parseAddress(m[2]!) }] : [];
      });
      expect(listens).toHaveLength(unix ? 27 : 21);
      const served = [];
      for (const { name, address } of listens) served.push([name, await servedCommonName(address, certs.ca, cleanup)]);
      expect(served).toEqual(listens.map(({ name }) => [name, 'reloaded']));
    }, 90_000);
  });
}
