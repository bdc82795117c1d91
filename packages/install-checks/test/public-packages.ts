import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  [field: string]: unknown;
}

export interface PublicPackage {
  /** Its folder under packages/. */
  dir: string;
  path: string;
  json: PackageJson;
}

/** Every package under packages/ that is not private: what `changeset publish` would publish. */
export function publicPackages(): PublicPackage[] {
  const out: PublicPackage[] = [];
  for (const dir of readdirSync(`${ROOT}packages`).sort()) {
    const file = `${ROOT}packages/${dir}/package.json`;
    if (!existsSync(file)) continue;
    const json = JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
    if (!json.private) out.push({ dir, path: `${ROOT}packages/${dir}`, json });
  }
  return out;
}
