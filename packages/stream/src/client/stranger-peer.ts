import { FrameError } from '@skein/core';
import { BadMagic } from '../wire/bad-magic.js';
import { UnsupportedVersion } from '../wire/unsupported-version.js';

/**
 * Why a connection failed whose peer sent bytes that do not frame before it had sent a single
 * frame of the protocol: most likely no Skein server at all, or one on another transport, which
 * a bare "bad magic 0x5448" does not say. An HTTP or WebSocket server answers a TCP client in
 * HTTP ("HT"); a server with a banner (SMTP, SSH) speaks first; an echo server sends the client's
 * own hello back, whose action reads as a length of 2 GiB. A FrameError still, its cause the
 * transport's, so that what reads the close's reason reads it as before.
 */
export function strangerPeer(err: FrameError): FrameError {
  // The magic was right: a Skein peer of another version, which the error names as it is.
  if (err instanceof UnsupportedVersion) return err;
  const text = err instanceof BadMagic ? err.text : undefined;
  const hint =
    text === 'HT'
      ? 'the peer answered in HTTP: is it a WebSocket server (dial it with @skein/transport-ws), or no Skein server at all?'
      : `${text === undefined ? 'the first bytes the peer sent are' : `the peer's first bytes ("${text}…") are`} no Skein frame: is it a Skein server, and does it serve the transport this client dials?`;
  return Object.assign(new FrameError(`${err.message}: ${hint}`), { cause: err });
}
