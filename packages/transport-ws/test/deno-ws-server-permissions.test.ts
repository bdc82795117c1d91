import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { itNeeding, launch, reap, type Proc } from '@skein/test-utils';

// The ws server is `ws`, which reads two environment variables as it loads: under Deno without
// --allow-env its listen rejected with Deno's raw NotCapable (no code; unhandled, it ends the
// process), where the client already said InvalidArgument naming the flag.
const fixture = fileURLToPath(new URL('./fixtures/wss-listen-outcome.mjs', import.meta.url));
let server: Proc | undefined;
afterEach(() => reap(server));

itNeeding(['deno'], 'a Deno ws server run without --allow-env fails to listen with InvalidArgument naming the flag ws needs', async () => {
  server = launch('deno', fixture, ['null'], { denoPermissions: ['--allow-net', '--allow-read'] });
  const [line] = await server.waitForLine(/^(listening \d+|failed .*)$/);
  expect(line).toMatch(/^failed InvalidArgument: .*--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE/);
}, 30_000);

itNeeding(['deno'], 'a Deno ws server run with the flag listens', async () => {
  server = launch('deno', fixture, ['null'], { denoPermissions: ['--allow-net', '--allow-read', '--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE'] });
  expect((await server.waitForLine(/^(listening \d+|failed .*)$/))[0]).toMatch(/^listening \d+$/);
}, 30_000);
