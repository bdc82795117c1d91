import type { TlsOptions, Transport } from '@skein/core';
import { describe, expectTypeOf, it } from 'vitest';
import { uwsTransport as browserUws, wsTransport as browserWs } from '../src/browser.js';
import { uwsTransport, wsTransport, type WsTransport } from '../src/index.js';

// What wsTransport and uwsTransport always have is required in their type: `reloadTls(...)`
// compiles under strict TypeScript without a `!` (core's Transport has both optional), and
// each is still a Transport. The browser entry returns the same type (one declaration for both).
describe('wsTransport() and uwsTransport()', () => {
  it('return a WsTransport whose reloadTls and tlsGeneration are required', () => {
    for (const t of [wsTransport(), uwsTransport(), browserWs(), browserUws()]) {
      expectTypeOf(t).toEqualTypeOf<WsTransport>();
      expectTypeOf(t.reloadTls).toEqualTypeOf<(tls: TlsOptions) => Promise<void>>();
      expectTypeOf(t.tlsGeneration).toEqualTypeOf<() => number>();
      expectTypeOf(t.reloadTls({ ca: '' })).toEqualTypeOf<Promise<void>>();
    }
  });

  it('is assignable to core Transport', () => {
    expectTypeOf<WsTransport>().toExtend<Transport>();
    const asContract: Transport = wsTransport();
    expectTypeOf(asContract).toEqualTypeOf<Transport>();
  });
});
