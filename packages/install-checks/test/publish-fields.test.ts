import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { publicPackages, type PackageJson } from './public-packages.js';

/** Where the repository is published; every package's links point there. */
const REPO = 'https://github.com/skein-rpc/skein';

/** What a package page on the registry needs, and what an install outside the workspace needs. */
function problems(dir: string, pkg: PackageJson): string[] {
  const p: string[] = [];
  const need = (ok: unknown, what: string): void => void (ok || p.push(what));
  const repo = pkg.repository as { type?: string; url?: string; directory?: string } | undefined;
  need(pkg.license === 'MIT', 'license MIT');
  need(repo?.url === `git+${REPO}.git` && repo.directory === `packages/${dir}`, `repository { url: git+${REPO}.git, directory: packages/${dir} }`);
  need(typeof pkg.homepage === 'string' && pkg.homepage.startsWith(`${REPO}/`), `homepage under ${REPO}`);
  need(typeof pkg.description === 'string' && pkg.description.length > 0, 'description');
  need(typeof pkg.sideEffects === 'boolean' || Array.isArray(pkg.sideEffects), 'sideEffects');
  need(Array.isArray(pkg.files) && (pkg.files as string[]).includes('dist'), 'files with dist');
  need(typeof pkg.types === 'string', 'types');
  const dot = (pkg.exports as Record<string, Record<string, unknown>> | undefined)?.['.'];
  need(dot && typeof dot.types === 'string' && typeof dot.default === 'string', 'exports["."] with types and default');
  need((pkg.publishConfig as { access?: string } | undefined)?.access === 'public', 'publishConfig.access public');
  need((pkg.engines as { node?: string } | undefined)?.node, 'engines.node');
  // Installed from a registry, a dependency must name a version: pnpm pack turns workspace:^
  // into one, but a workspace:* peer range would pin the exact version.
  for (const [name, range] of Object.entries((pkg.peerDependencies ?? {}) as Record<string, string>)) {
    need(!range.startsWith('workspace:'), `peerDependencies ${name}: a range, not ${range}`);
  }
  return p;
}

/** Relative links in a README break on a registry's package page: they must be absolute. */
function relativeLinks(readme: string): string[] {
  return [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^(https?:|mailto:|#)/.test(t));
}

describe('every public package is ready to publish', () => {
  for (const { dir, path, json } of publicPackages()) {
    it(`${json.name}: package.json fields, README with absolute links`, () => {
      expect(problems(dir, json)).toEqual([]);
      expect(existsSync(`${path}/README.md`)).toBe(true);
      expect(relativeLinks(readFileSync(`${path}/README.md`, 'utf8'))).toEqual([]);
    });
  }
});
