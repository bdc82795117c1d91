import { ErrorCode } from '@skein/core';
import { ManualClock, freePort, muteServer, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream } from '../src/index.js';
import { transport as tcp } from './harness.js';

/** A credentials function whose token service hangs. */
const never = (): Promise<string> => new Promise(() => {});

// connect() bounds a credentials function by connectTimeoutMs (docs/auth.md). A connect that
// fails first (nothing listens, its abort) must take that bound with it: left running, it held
// the hung fetch (and its timer) for up to connectTimeoutMs more, one per attempt of a pool that
// keeps trying, however long connectTimeoutMs is.
describe('the bound on a credentials function, once the connect has failed otherwise', () => {
  it('is stopped when the transport cannot connect (Unreachable)', async () => {
    const clock = new ManualClock();
    const address = `127.0.0.1:${await freePort()}`;
    const err = await within(ClientStream.connect({ transport: tcp, address, clock, connectTimeoutMs: 3_600_000, credentials: never }).catch((e: unknown) => e), 10_000, 'the connect to fail');
    expect(err).toMatchObject({ code: ErrorCode.Unreachable });
    expect(clock.running).toBe(0);
  });

  it('is stopped when the connect is aborted while the credentials are awaited (Cancelled)', async () => {
    const mute = await muteServer();
    const clock = new ManualClock();
    const abort = new AbortController();
    const connecting = ClientStream.connect({ transport: tcp, address: mute.address, clock, connectTimeoutMs: 3_600_000, credentials: never }, abort.signal).catch((e: unknown) => e);
    await mute.acceptedAtLeast(1);
    abort.abort(new Error('given up'));
    expect(await within(connecting, 10_000, 'the connect to fail')).toMatchObject({ code: ErrorCode.Cancelled });
    expect(clock.running).toBe(0);
    await mute.allClosed();
  });
});
