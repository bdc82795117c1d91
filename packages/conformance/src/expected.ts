import { expect } from 'vitest';
import { BULK_CALLS, CHECK_DETAIL, CUSTOM_NUMBER, FAIL_DETAIL, PEER_DETAIL, REVERSE_CALLS } from './contract.mjs';
import { BLOB_SIZES, CONCURRENT_CALLS, CONGESTED_CALLS, MIRROR_BLOB, PAUSED_READ_BYTES, STREAM_ITEMS, type SCENARIOS } from './scenarios.mjs';

export type ScenarioName = Extract<keyof typeof SCENARIOS, string>;
/** The transport's `name`: `tcp`, `ws`, `uws` here, a third party's own. */
export type ServerTransport = string;
/** The runtime's `name` (`@skein/runtime`): node, bun or deno. */
export type RuntimeName = string;

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
        // An undeclared handler error is Internal, and its message stays on the server; the typed
        // client names the method in every built-in error.
        internal: builtin('Internal', 'never', 'Calculator.boom: rpc_internal_err'),
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
        api: builtin('InvalidArgument', 'never', `Calculator.check: ${CHECK_DETAIL}`),
      };
    case 'blobs':
      return BLOB_SIZES.map((size) => ({ size, length: size, msg: true, blob: true }));
    case 'concurrency':
      return { calls: CONCURRENT_CALLS, right: CONCURRENT_CALLS, wrong: [] };
    case 'timeout':
      // The client's own timer, or the server's answer to the deadline the call carried (a call
      // with a timeout waits for the hello's answer, so its deadline travels): Timeout either way.
      return { hang: builtin('Timeout', 'idempotent', expect.stringMatching(/within 200 ms|deadline passed/)), afterwards: 'after' };
    case 'auth':
      return {
        first: '{"name":"c1"}',
        renewed: '{"name":"c2"}',
        anonymous: 'null',
        wrong: builtin('Unauthenticated', 'never', 'credentials refused'),
        expired: builtin('Unauthenticated', 'never', 'token expired'),
      };
    case 'streams':
      return {
        serverStream: { items: STREAM_ITEMS, sum: (STREAM_ITEMS * (STREAM_ITEMS + 1)) / 2 },
        clientStream: 5050,
        both: [
          { value: 'AB', length: 3, reversed: true },
          { value: 'C', length: MIRROR_BLOB, reversed: true },
        ],
        customError: { before: [1, 2, 3], error: { class: 'DivideByZero', message: 'division by zero' } },
        afterwards: 5,
      };
    case 'cancel':
      return { started: 'yes', call: 'Cancelled', callServer: 'Cancelled', read: 3, streamServer: 'Cancelled', beforeSend: 'Cancelled', neverStarted: true, afterwards: 2 };
    case 'deadline':
      // The late call's handler is stopped by the server's deadline (Timeout) or, a moment before
      // it, by the cancel the client sends when its own timer for that deadline fires (Cancelled):
      // they race by design (docs/protocol.md, "Cancel"); each stops it, and an unstopped handler
      // reports neither. The server's deadline alone is checked on a manual clock in the stream tests.
      return { withTimeout: { deadline: true, within: true }, without: { deadline: false, within: false }, late: 'Timeout', lateServer: expect.stringMatching(/^(Timeout|Cancelled)$/) };
    case 'remote':
      return {
        // Every reverse call answered as sent (in the order sent, more than the window at once), the refusal as its built-in error.
        served: { caller: true, upper: REVERSE_CALLS, reversed: true, refused: { code: 'InvalidArgument', message: `Peer.refuse: ${PEER_DETAIL}` } },
        ran: REVERSE_CALLS + 2,
        inOrder: true,
        plain: { caller: false },
        afterwards: 'after',
      };
    case 'congestedWrites':
      // Every call written while the connection was congested came back whole (`wrong` names the first few that did not).
      return { intact: CONGESTED_CALLS, wrong: [] };
    case 'backpressure':
      return {
        // The server stopped reading the slow connection before it had answered everything, and
        // stayed so (STILL_PROBES round trips with nothing moving), the paused side reading nothing.
        paused: true,
        bounded: true,
        receivedWhilePaused: expect.toSatisfy(
          (n: unknown) => n === null || (typeof n === 'number' && n <= PAUSED_READ_BYTES),
          `null (not counted) or at most ${PAUSED_READ_BYTES} bytes received by the paused connection`,
        ),
        // Then every answer came, in order, byte for byte.
        answers: BULK_CALLS,
        inOrder: true,
        intact: true,
        deliveredWhilePaused: 0,
        serverAnswered: BULK_CALLS,
        serverOrder: 'kept',
      };
  }
}
