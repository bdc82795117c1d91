import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { describeNeeding, makeTestCerts, muteServer, reap, repoTool, startProcess, toolMissing, type TestCerts } from '@skein/test-utils';

/*
 * One rule for Deno's permission refusals (src/permission-error.ts), checked against what Deno
 * throws when a flag is missing: a connect rethrows the refusal as it is (the program's fault, no
 * other node would do better), loadConnectTls leaves the pair to the next connect, and the
 * system's EACCES (PermissionDenied on Deno 2) stays the network's failure, Unreachable, as on Node.
 */

const fixture = fileURLToPath(new URL('./fixtures/permission-errors.ts', import.meta.url));
const NOT_CAPABLE = 'error name=NotCapable code=undefined cause=undefined';

let certs: TestCerts | undefined;
beforeAll(() => {
  certs = makeTestCerts();
});
afterAll(() => certs?.remove());

/** The fixture's lines for `cases`, run by Deno with `flags` (as user `uid` when given). */
async function run(flags: string[], unixPath: string, cases: string[], uid?: number): Promise<string[]> {
  const server = await muteServer();
  const pair = Buffer.from(JSON.stringify(certs!.client)).toString('base64');
  const deno = ['run', ...flags, '--conditions', 'skein-source', '--sloppy-imports', fixture, server.address.split(':')[1]!, unixPath, pair, ...cases];
  const [cmd, args] = uid === undefined ? [repoTool('deno'), deno] : ['setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', repoTool('deno'), ...deno]];
  const child = startProcess(cmd, args, { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' });
  onTestFinished(() => reap(child));
  await child.exited;
  return child.lines.filter((line) => cases.some((c) => line.startsWith(`${c} `)));
}

describeNeeding(['deno'], 'deno runtime: permission refusals', () => {
  it('a connect without --allow-net, or to a Unix socket without --allow-read, rethrows NotCapable as it is; loadConnectTls leaves the pair to the connect', async () => {
    const lines = await run([], '/tmp/skein-no-such.sock', ['tcp', 'tls', 'start-tls', 'unix', 'load']);
    expect(lines).toEqual([`tcp ${NOT_CAPABLE}`, `tls ${NOT_CAPABLE}`, `start-tls ${NOT_CAPABLE}`, `unix ${NOT_CAPABLE}`, 'load ok']);
  }, 60_000);

  it('a connect to a Unix socket without --allow-write rethrows NotCapable as it is', async () => {
    const unix = await muteServer({ unix: true });
    const lines = await run(['--allow-net', '--allow-read'], unix.address.slice('unix:'.length), ['unix']);
    expect(lines).toEqual([`unix ${NOT_CAPABLE}`]);
  }, 60_000);

  // As root the directory's mode stops nobody: the child runs as user nobody then (setpriv).
  const asRoot = process.getuid?.() === 0;
  const skip = asRoot && toolMissing('setpriv') !== undefined;
  (skip ? it.skip : it)(`a Unix socket the system refuses (EACCES, PermissionDenied) is Unreachable, as on Node${skip ? ' (skipped: run as root without setpriv, a directory mode stops nobody)' : ''}`, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'skein-eacces-'));
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(dir, 's.sock'), resolve));
    chmodSync(dir, 0o000);
    onTestFinished(() => {
      chmodSync(dir, 0o700);
      server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const lines = await run(['--allow-net', '--allow-read', '--allow-write'], path.join(dir, 's.sock'), ['unix'], asRoot ? 65534 : undefined);
    expect(lines).toEqual(['unix error name=RpcError code=Unreachable cause=PermissionDenied']);
  }, 60_000);
});
