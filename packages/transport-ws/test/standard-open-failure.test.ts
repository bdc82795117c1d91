import { ErrorCode, type RpcError } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { standardOpenFailure } from '../src/standard-open-failure.js';

// standardOpenFailure is a pure parser of the text in Bun's error event, so it is fed crafted
// texts here: wordings Bun may use (a status text after the number, the URL inside the reason)
// that the Bun run in standard-client-refusals.test.ts cannot make Bun say.
const dialled = "ws://API.example.com:8080/skein?token=s3cret'x";
const shown = 'ws://API.example.com:8080/skein?…';
const bun = (reason: string): string => `WebSocket connection to '${dialled}' failed: ${reason}`;
const fail = (reason: string): RpcError => standardOpenFailure(dialled, 1006, bun(reason));

describe("a standard WebSocket's failure to open, read from Bun's words", () => {
  it.each([
    ['Expected 101 status code: 401', ErrorCode.Unauthenticated],
    ['Expected 101 status code: 401 Unauthorized', ErrorCode.Unauthenticated],
    ['Expected 101 status code: 403 Forbidden', ErrorCode.Unauthenticated],
  ])('reads the status of %j', (reason, code) => {
    const err = fail(reason);
    expect([err.code, err.message]).toEqual([code, `${shown} refused the connection: HTTP ${reason.slice(26, 29)}`]);
  });

  it('reads no status from a longer number', () => {
    const err = fail('Expected 101 status code: 4010');
    expect([err.code, err.message]).toEqual([ErrorCode.Unreachable, `cannot connect to ${shown}: closed before opening (1006): Expected 101 status code: 4010`]);
  });

  it.each([
    ['the URL as dialled', `Failed to connect to ${dialled}`],
    ['the URL as the URL parser writes it', 'Failed to connect to ws://api.example.com:8080/skein?token=s3cret%27x'],
    ['its path and query', "Failed to GET /skein?token=s3cret'x"],
    ['its query in a TLS failure', "TLS handshake failed: CERTIFICATE_VERIFY_FAILED for /skein?token=s3cret'x"],
    ['its query after a status', "Expected 101 status code: 404 Not Found (/skein?token=s3cret'x)"],
  ])('cuts the query from a reason naming %s', (_what, reason) => {
    const err = fail(reason);
    expect(err.message).not.toContain('s3cret');
    expect(err.message).toContain('?…');
  });
});
