import { describe, expectTypeOf, it } from 'vitest';
import { wsTransport as browserWs } from '../src/browser.js';
import { wsTransport, type StandardWebSocket, type StandardWebSocketCtor } from '../src/index.js';

// The `WebSocket` option takes a runtime's own standard constructor as it is typed there. Its
// second parameter is protocols in the DOM, protocols or `WebSocketOptions` in Deno, protocols or
// `WebSocketInit` in Node's types (the global here): Skein passes none of those, so it must not be
// typed Bun's `{ tls }` alone, which refused every one of them (`wsTransport({ WebSocket })` in
// Deno failed `deno check`).
type DomCtor = new (url: string | URL, protocols?: string | string[]) => StandardWebSocket;
type DenoCtor = new (url: string | URL, protocolsOrOptions?: string | string[] | { protocols?: string | string[]; headers?: Record<string, string> }) => StandardWebSocket;
type BunCtor = new (url: string | URL, options?: { tls?: Record<string, unknown>; headers?: Record<string, string> }) => StandardWebSocket;

describe('the WebSocket option', () => {
  it("takes the DOM's, Deno's, Bun's and Node's global WebSocket constructor", () => {
    expectTypeOf<DomCtor>().toExtend<StandardWebSocketCtor>();
    expectTypeOf<DenoCtor>().toExtend<StandardWebSocketCtor>();
    expectTypeOf<BunCtor>().toExtend<StandardWebSocketCtor>();
    wsTransport({ WebSocket: globalThis.WebSocket });
    browserWs({ WebSocket: globalThis.WebSocket });
  });
});
