import type { TlsOptions, Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { describe, expectTypeOf, it } from 'vitest';
import { tcpTransport, type TcpTransport } from '../src/index.js';

// What tcpTransport always has is required in its type: `reloadTls(...)` compiles under strict
// TypeScript without a `!` (core's Transport has both optional), and it is still a Transport.
describe('tcpTransport()', () => {
  it('returns a TcpTransport whose reloadTls and tlsGeneration are required', () => {
    const t = tcpTransport(nodeRuntime);
    expectTypeOf(t).toEqualTypeOf<TcpTransport>();
    expectTypeOf(t.reloadTls).toEqualTypeOf<(tls: TlsOptions) => Promise<void>>();
    expectTypeOf(t.tlsGeneration).toEqualTypeOf<() => number>();
    expectTypeOf(t.reloadTls({ ca: '' })).toEqualTypeOf<Promise<void>>();
  });

  it('is assignable to core Transport', () => {
    expectTypeOf<TcpTransport>().toExtend<Transport>();
    const asContract: Transport = tcpTransport(nodeRuntime);
    expectTypeOf(asContract).toEqualTypeOf<Transport>();
  });
});
