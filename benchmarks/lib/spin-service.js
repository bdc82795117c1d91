// The service of the worker-pool benchmark, written once for both sides: the in-process server
// imports it, and each pool worker loads it as its module (the default export). `work` burns a
// given number of loop iterations of CPU (the orchestrator calibrates ~20 µs); `add` is trivial.
import { method, service, implement } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger } from '@skein/core';

export const Spin = service('Spin', {
  work: method(),
  add: method(),
});

/** xorshift32 for `iterations` rounds: pure CPU, and its result is returned so none of it is dead code. */
export function spin(iterations) {
  let x = 0x9e3779b9 | 0;
  for (let i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x >>> 0;
}

export const spinService = implement(Spin, {
  work: (iterations) => spin(iterations),
  add: ({ a, b }) => a + b,
});

export default { codec: msgpackCodec, services: [spinService], logger: silentLogger };
