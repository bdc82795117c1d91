import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from here (src/ or dist/ of packages/test-utils). */
const root = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Where `pnpm install-runtimes` (run by `.ci/run`) puts bun and deno: a folder of its own, not
 * the workspace's node_modules, so a plain `pnpm install` never downloads their 200 MB.
 */
const TOOLS = `${root}.tools/`;

/** How to get a missing runtime, for error and skip messages. */
export const INSTALL_RUNTIMES = 'run `pnpm install-runtimes` (bun and deno into .tools/, as CI does) or put it on PATH';

/** How to get each tool tests look for; bun and deno by default. */
const HOW: Record<string, string> = {
  chromium: "`apt-get install chromium` (Debian's; .ci/run installs it), never a downloaded browser",
};
const howToGet = (name: string): string => HOW[name] ?? INSTALL_RUNTIMES;

/**
 * Native executables behind the `.bin` shims of the npm packages. The shims wrap them in a shell
 * (bun) or a second Node process (deno) that does not pass signals on, so killing a test's child
 * through a shim would leave the runtime running.
 */
const NATIVE: Record<string, string> = {
  bun: 'node_modules/bun/bin/bun.exe',
  deno: 'node_modules/deno/deno',
};

/** The pinned install in .tools/ first (the version CI runs), then the root's node_modules, then PATH. */
function findTool(name: string): string | undefined {
  for (const base of [TOOLS, root]) {
    const native = NATIVE[name] && base + NATIVE[name];
    if (native && existsSync(native)) return native;
    const shim = `${base}node_modules/.bin/${name}`;
    if (existsSync(shim)) return shim;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The executable of a tool tests need (`bun`, `deno`); throws saying how to install it. */
export function repoTool(name: string): string {
  const found = findTool(name);
  if (found) return found;
  throw new Error(`${name} is not installed: ${howToGet(name)}`);
}

/**
 * Why tests that need `name` cannot run here, or undefined when they can. On CI (`CI` set to
 * anything but `false`/`0`) it is always undefined: there a missing runtime must fail the run
 * (repoTool throws), never quietly skip the tests that cover it.
 */
export function toolMissing(name: string): string | undefined {
  if (findTool(name) || onCi()) return undefined;
  return `${name} is not installed (${howToGet(name)})`;
}

function onCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}
