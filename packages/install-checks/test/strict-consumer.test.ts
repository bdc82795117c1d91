import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { publicPackages, ROOT } from './public-packages.js';

// fixtures/strict-consumer is compiled by this package's `typecheck` (tsc, beside every other
// package's), not here: this only keeps it honest, so that a package published later, or an
// entry added to an `exports`, is not left out of what that compile reads.
const HERE = `${ROOT}packages/install-checks/`;

/** Every module specifier a user may import from the public packages: each `exports` key but `./package.json`. */
function publicEntries(): string[] {
  return publicPackages().flatMap(({ json }) =>
    Object.keys(json.exports as Record<string, unknown>)
      .filter((key) => key !== './package.json')
      .map((key) => (key === '.' ? json.name : `${json.name}/${key.slice(2)}`)),
  );
}

describe('the strict consumer fixture', () => {
  it('imports every public entry of every published package', () => {
    const source = readFileSync(`${HERE}fixtures/strict-consumer/entries.ts`, 'utf8');
    const imported = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    expect(imported.sort()).toEqual(publicEntries().sort());
  });

  it('reaches each of them through a workspace link of this package, as dist/ types', () => {
    const json = JSON.parse(readFileSync(`${HERE}package.json`, 'utf8')) as { devDependencies: Record<string, string> };
    const missing = publicPackages().filter(({ json: p }) => json.devDependencies[p.name] !== 'workspace:*').map(({ json: p }) => p.name);
    expect(missing).toEqual([]);
    const tsconfig = JSON.parse(readFileSync(`${HERE}fixtures/strict-consumer/tsconfig.json`, 'utf8')) as { extends?: string; compilerOptions: Record<string, unknown> };
    // No `skein-source` condition (nor a base config that brings it): the compile must read what is published.
    expect(tsconfig.extends).toBeUndefined();
    expect(tsconfig.compilerOptions.customConditions).toBeUndefined();
    expect(tsconfig.compilerOptions).toMatchObject({ exactOptionalPropertyTypes: true, skipLibCheck: false, strict: true, noUncheckedIndexedAccess: true });
  });
});
