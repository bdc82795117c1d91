// The child processes and the worker module run as JavaScript: bundle them from src/ into dist/
// (their @skein imports stay packages, resolved from this example's node_modules).
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

export async function bundleApp(): Promise<{ peer: string; client: string; heavy: string }> {
  const src = (f: string) => fileURLToPath(new URL(`../src/${f}.ts`, import.meta.url));
  await build({
    entryPoints: { peer: src('peer'), client: src('client'), heavy: src('heavy') },
    outdir: DIST, outExtension: { '.js': '.mjs' }, bundle: true, platform: 'node', format: 'esm',
    packages: 'external', target: 'node20', logLevel: 'silent',
  });
  return { peer: `${DIST}peer.mjs`, client: `${DIST}client.mjs`, heavy: `${DIST}heavy.mjs` };
}
