import { FrameError } from '@skein/core';

/**
 * A response header with the protocol's magic and another version: a Skein peer of a protocol
 * this one does not read, not a stranger (its own class, so the client's reason for a close can
 * say the one and not the other).
 */
export class UnsupportedVersion extends FrameError {
  constructor(readonly version: number) {
    super(`unsupported version ${version}`);
  }
}
