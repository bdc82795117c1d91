import type { ReloadableTransport } from '@skein/core';
import { describe, expectTypeOf, it } from 'vitest';
import { uwsTransport as browserUws, wsTransport as browserWs } from '../src/browser.js';
import { uwsTransport, wsTransport } from '../src/index.js';

// wsTransport and uwsTransport, in the Node entry and the browser one, return core's
// ReloadableTransport (reloadTls and tlsGeneration required), so `reloadTls(...)` compiles under
// strict TypeScript without a `!`.
describe('wsTransport() and uwsTransport()', () => {
  it('return a ReloadableTransport in both entries', () => {
    for (const t of [wsTransport(), uwsTransport(), browserWs(), browserUws()]) {
      expectTypeOf(t).toEqualTypeOf<ReloadableTransport>();
      expectTypeOf(t.reloadTls({ ca: '' })).toEqualTypeOf<Promise<void>>();
      expectTypeOf(t.tlsGeneration()).toEqualTypeOf<number>();
    }
  });
});
