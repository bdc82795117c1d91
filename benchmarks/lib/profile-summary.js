import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Self time per function from a V8 `.cpuprofile` (what `node --cpu-prof` writes): each sample
 * is charged to the function on top of the stack, with the time until the next sample. Returns
 * the `top` functions by self time, with their share of all sampled time.
 */
export function topSelfTime(file, top = 15) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const key = frameName(nodes.get(id).callFrame);
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    totalUs += dt;
  });
  return [...selfUs]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / totalUs }));
}

/** `functionName file:line`, with the path cut to the package (`@skein/stream/dist/...`). */
function frameName({ functionName, url, lineNumber }) {
  const fn = functionName || '(anonymous)';
  if (!url) return fn;
  return `${fn} ${shortPath(url)}:${lineNumber + 1}`;
}

function shortPath(url) {
  const p = url.replace(/^file:\/\//, '');
  const pkg = /(?:node_modules\/|packages\/)((?:@[^/]+\/)?[^/]+\/.*)$/.exec(p);
  if (pkg) return pkg[1].replace(/^(?:\.pnpm\/[^/]+\/node_modules\/)/, '');
  return p.startsWith('node:') ? p : path.basename(p);
}
