import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root, from here (src/ or dist/ of packages/test-utils). */
const root = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Native executables behind the `.bin` shims of some root devDependencies. The shims wrap them in
 * a shell (bun) or a second Node process (deno) that does not pass signals on, so killing a test's
 * child through a shim would leave the runtime running.
 */
const NATIVE: Record<string, string> = {
  bun: 'node_modules/bun/bin/bun.exe',
  deno: 'node_modules/deno/deno',
};

/**
 * The executable of a tool installed in the repository root's node_modules (a root
 * devDependency such as `bun` or `deno`), never one found on PATH: tests run the version the
 * lockfile names.
 */
export function repoTool(name: string): string {
  const native = NATIVE[name] && root + NATIVE[name];
  if (native && existsSync(native)) return native;
  const shim = `${root}node_modules/.bin/${name}`;
  if (existsSync(shim)) return shim;
  throw new Error(`${name} is not installed in ${root}node_modules (a root devDependency?)`);
}
