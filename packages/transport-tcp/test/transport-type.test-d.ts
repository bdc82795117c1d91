import type { ReloadableTransport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { describe, expectTypeOf, it } from 'vitest';
import { tcpTransport } from '../src/index.js';

// tcpTransport returns core's ReloadableTransport (reloadTls and tlsGeneration required), so
// `reloadTls(...)` compiles under strict TypeScript without a `!`.
describe('tcpTransport()', () => {
  it('returns a ReloadableTransport', () => {
    const t = tcpTransport(nodeRuntime);
    expectTypeOf(t).toEqualTypeOf<ReloadableTransport>();
    expectTypeOf(t.reloadTls({ ca: '' })).toEqualTypeOf<Promise<void>>();
    expectTypeOf(t.tlsGeneration()).toEqualTypeOf<number>();
  });
});
