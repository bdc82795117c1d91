import { ErrorCode } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { describe, expect, it } from 'vitest';
import { tcpTransport } from '../src/index.js';
import { TCP_OPTION_NAMES } from '../src/tcp-options.js';

const invalid = (message: string | RegExp): unknown => expect.objectContaining({ code: ErrorCode.InvalidArgument, message: typeof message === 'string' ? message : expect.stringMatching(message) });

// Plain JS: a misspelt knob (`maxPendingFrameByte`) was dropped without a word and the default
// used; `tcpTransport()` with no runtime failed with a bare TypeError (reading 'clock' of undefined).
describe('tcpTransport given something other than a Runtime and its options', () => {
  it.for([
    [undefined, 'none'],
    [null, 'null'],
    ['node', 'string'],
    [{ tls: {} }, 'an object that is no Runtime'],
  ] as const)('tcpTransport(%s) is InvalidArgument naming what it takes', ([arg, got]) => {
    expect(() => tcpTransport(arg as never)).toThrow(invalid(`tcpTransport takes a Runtime first, got ${got}: tcpTransport(runtime, options?), the runtime from @skein/runtime (or @skein/runtime-node, -bun, -deno)`));
  });

  it.for([null, 'tls://h:1', 7, [] as unknown[]])('tcpTransport(runtime, %s) is InvalidArgument: not an options object', (arg) => {
    expect(() => tcpTransport(nodeRuntime, arg as never)).toThrow(invalid(/^tcpTransport takes an options object, got (null|string|number|an array)$/));
  });

  it('an unknown option is InvalidArgument naming it and the options there are, as wsTransport words it', () => {
    expect(() => tcpTransport(nodeRuntime, { maxPendingFrameByte: 1 } as never)).toThrow(invalid(`tcpTransport option maxPendingFrameByte is unknown (its options: ${TCP_OPTION_NAMES.join(', ')})`));
    expect(() => tcpTransport(nodeRuntime, { tsl: {}, path: '/x' } as never)).toThrow(invalid(/^tcpTransport options tsl, path are unknown \(its options: copyThreshold, /));
    // The WebSocket transport's knob is not this one's (its cap is maxBatchBytes there; batchBytes here).
    expect(() => tcpTransport(nodeRuntime, { maxBatchBytes: 1 } as never)).toThrow(invalid(/^tcpTransport option maxBatchBytes is unknown/));
  });

  it('every option of its own passes', () => {
    expect(() => tcpTransport(nodeRuntime, Object.fromEntries(TCP_OPTION_NAMES.map((k) => [k, undefined])))).not.toThrow();
    expect(() => tcpTransport(nodeRuntime, { batchBytes: 1024, maxPendingFrameBytes: Infinity, tls: undefined })).not.toThrow();
    expect(() => tcpTransport(nodeRuntime)).not.toThrow();
  });
});
