import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { reap, startProcess, type Proc } from '@skein/test-utils';

// Reads the codec as built (dist/): `pnpm --filter @skein/codec-msgpack build` first.
const fixture = fileURLToPath(new URL('./fixtures/claimed-arrays.mjs', import.meta.url));

// Made up front, the arrays these messages claim would take 500 MB (array16) and 256 MB
// (array32): the child's heap is too small for either, and a decode must end in a Decode error.
describe('msgpack arrays claimed but not sent cost memory by the bytes received', () => {
  let proc: Proc | undefined;
  afterEach(() => reap(proc));

  it.each([
    ['array16', '1000 nested headers (3 KB) claiming 65 535 items each, read by the library'],
    ['array32', '32 nested headers claiming the rest of a 1 MiB message each, read by the fast path'],
  ])('%s: %s, in a 48 MiB heap', async (shape) => {
    proc = startProcess(process.execPath, ['--max-old-space-size=48', fixture, shape]);
    expect(await proc.exited).toBe(0);
    expect(proc.lines).toEqual(['threw RpcError Decode']);
  });
});
