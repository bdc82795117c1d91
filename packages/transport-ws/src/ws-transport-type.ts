import type { ReloadableTransport } from '@skein/core';

/**
 * What `wsTransport` and `uwsTransport` return: a `Transport` whose `reloadTls` and
 * `tlsGeneration` are always there (core's `ReloadableTransport`). The browser entry's too (its
 * `reloadTls` rejects: a page's WebSocket uses the browser's certificates), as one declaration
 * describes both entries.
 */
export type WsTransport = ReloadableTransport;
