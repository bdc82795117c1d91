import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const sources = new URL('../c/', import.meta.url);
const binaries = new URL('../results/bin/', import.meta.url);

/**
 * The C echo's `client` or `server` binary, built with the machine's gcc (-O2) the first time
 * it is needed and again whenever its source or shared header is newer than the binary.
 */
export function cEchoBinary(role) {
  const source = fileURLToPath(new URL(`echo-${role}.c`, sources));
  const header = fileURLToPath(new URL('bench-process.h', sources));
  const binary = fileURLToPath(new URL(`echo-${role}`, binaries));
  if (mtime(binary) < Math.max(mtime(source), mtime(header))) {
    mkdirSync(fileURLToPath(binaries), { recursive: true });
    execFileSync('gcc', ['-O2', '-Wall', '-o', binary, source, '-lm'], { stdio: 'inherit' });
  }
  return binary;
}

const mtime = (file) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};
