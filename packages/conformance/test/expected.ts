import { expect } from 'vitest';
import { CHECK_DETAIL, CUSTOM_NUMBER, FAIL_DETAIL } from './fixtures/contract.mjs';
import { BLOB_SIZES, CONCURRENT_CALLS, type SCENARIOS } from './fixtures/scenarios.mjs';
import type { RuntimeName } from './runtimes.js';

export type ScenarioName = keyof typeof SCENARIOS;
export type ServerTransport = 'tcp' | 'ws' | 'uws';

const builtin = (code: string, retry: string, message: unknown = expect.any(String)) => ({ class: 'RpcError', code, retry, message });

/**
 * What each scenario of scenarios.mjs must report, whichever runtimes and transport ran it. The
 * scenario reports facts; only this file judges them.
 */
export function expected(name: ScenarioName, server: { runtime: RuntimeName; transport: ServerTransport }, client: RuntimeName): unknown {
  switch (name) {
    case 'calls':
      return {
        client,
        server: { runtime: server.runtime, transport: server.transport },
        add: 3,
        div: 2.5,
        apiEcho: [0, 1, 254, 255],
        streamEcho: ['hello', 'world'],
      };
    case 'errors':
      return {
        builtin: builtin('InvalidArgument', 'never'),
        unknownAction: builtin('Method', 'never'),
        unknownService: builtin('Service', 'never'),
        unknownMethod: builtin('Method', 'never'),
        // An undeclared handler error is Internal, and its message stays on the server.
        internal: builtin('Internal', 'never', 'rpc_internal_err'),
        customNumber: { class: 'DivideByZero', message: 'division by zero' },
        customResult: { class: 'DivideByZero', message: 'division by zero' },
        // A custom string error that starts with rpc_ is not mistaken for a built-in one.
        customBytes: { class: 'NotFound', key: 'timeout' },
        streamCustom: { class: 'RemoteError', payload: CUSTOM_NUMBER },
        afterwards: 4,
      };
    case 'errorDetail':
      return {
        stream: builtin('InvalidArgument', 'never', FAIL_DETAIL),
        api: builtin('InvalidArgument', 'never', CHECK_DETAIL),
      };
    case 'blobs':
      return BLOB_SIZES.map((size) => ({ size, length: size, msg: true, blob: true }));
    case 'concurrency':
      return { calls: CONCURRENT_CALLS, right: CONCURRENT_CALLS, wrong: [] };
    case 'timeout':
      return { hang: builtin('Timeout', 'idempotent', expect.stringMatching(/within 200 ms/)), afterwards: 'after' };
  }
}
