import tls from 'node:tls';
import { connectTimerMs } from '@skein/core';

/**
 * Whether a TLS handshake with `host:port` completes within `ms`: asked only after a plain
 * `http://` read of etcd there failed, to tell a TLS server (it hung up on gRPC's plaintext,
 * which says no more than "Failed to connect") from one that is down. The server's certificate
 * is not checked: nothing is sent over the connection, closed once the handshake is done.
 */
export function answersTls(host: string, port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    // `servername` only for a name: an IP address in SNI is not allowed (RFC 6066).
    const servername = /^[\d.]+$|:/.test(host) ? undefined : host;
    const socket = tls.connect({ host, port, servername, rejectUnauthorized: false });
    const done = (speaksTls: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(speaksTls);
    };
    // At most what a timer holds: past it Node fires at once (and warns), with no time to answer.
    const timer = setTimeout(() => done(false), connectTimerMs(ms));
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}
