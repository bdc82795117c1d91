import { ErrorCode } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { describe, expect, it } from 'vitest';
import { uwsTransport, wsTransport } from '../src/index.js';
import { WS_OPTION_NAMES } from '../src/options.js';
import { UWS_EXTRA_OPTIONS } from '../src/uws-transport.js';

const invalid = (message: string | RegExp): unknown => expect.objectContaining({ code: ErrorCode.InvalidArgument, message: typeof message === 'string' ? message : expect.stringMatching(message) });

// Plain JS, written as tcpTransport is (`tcpTransport(nodeRuntime)`): wsTransport took the runtime
// as its options, found none it knew, and served /skein with every default, without a word; a
// misspelt knob (`pathh`) was dropped the same way.
describe('wsTransport and uwsTransport given something other than their options', () => {
  it.for([
    ['wsTransport', wsTransport],
    ['uwsTransport', uwsTransport],
  ] as const)('%s(nodeRuntime) is InvalidArgument naming what it takes', ([owner, make]) => {
    expect(() => make(nodeRuntime as never)).toThrow(invalid(new RegExp(`^${owner} takes options, not a Runtime: .*tcpTransport\\(runtime, options\\) is the one that takes a runtime`)));
  });

  it.for([null, 'ws://h:1/skein', 7, [] as unknown[]])('wsTransport(%s) is InvalidArgument: not an options object', (arg) => {
    expect(() => wsTransport(arg as never)).toThrow(invalid(/^wsTransport takes an options object, got (null|string|number|an array)$/));
  });

  it('an unknown option is InvalidArgument naming it and the options there are', () => {
    expect(() => wsTransport({ pathh: '/rpc' } as never)).toThrow(invalid(`wsTransport option pathh is unknown (its options: ${WS_OPTION_NAMES.join(', ')})`));
    expect(() => wsTransport({ pathh: '/rpc', tsl: {} } as never)).toThrow(invalid(/^wsTransport options pathh, tsl are unknown \(its options: path, /));
    // uwsModule is uwsTransport's alone.
    expect(() => wsTransport({ uwsModule: 'x' } as never)).toThrow(invalid(/^wsTransport option uwsModule is unknown/));
  });

  it('every option of its own passes, and the renamed batchBytes still says its new name', () => {
    expect(() => wsTransport(Object.fromEntries(WS_OPTION_NAMES.map((k) => [k, undefined])))).not.toThrow();
    expect(() => uwsTransport({ uwsModule: 'uWebSockets.js', path: '/rpc' })).not.toThrow();
    // Each given as undefined (a config's unset value, as exactOptionalPropertyTypes code hands it on) is one left out.
    expect(() => uwsTransport(Object.fromEntries([...WS_OPTION_NAMES, ...UWS_EXTRA_OPTIONS].map((k) => [k, undefined])))).not.toThrow();
    expect(() => wsTransport({ batchBytes: 1 } as never)).toThrow(invalid('transport-ws option batchBytes is now maxBatchBytes'));
  });
});
