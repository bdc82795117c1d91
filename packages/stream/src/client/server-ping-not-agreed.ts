import { FrameError } from '@skein/core';

/**
 * A server ping from a server whose hello answer did not agree kind 21: an extension frame not
 * agreed, which a client treats as an unknown flag (a broken or hostile server's), not answered.
 */
export function serverPingNotAgreed(flag: number): FrameError {
  return new FrameError(`a server ping (flag ${flag}) from a server whose hello did not agree server pings: an extension frame not agreed`);
}
