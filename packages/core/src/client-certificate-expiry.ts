import { DEFAULT_TLS_EXPIRY_WARNING_MS, EXPIRY_WARNING_REPEAT_MS, certificateValidity, expiryWarning, validityFields } from './certificate-expiry.js';
import { guardedLogger } from './guarded-logger.js';
import { silentLogger, type Logger } from './logger.js';
import type { TlsOptions } from './tls.js';

/**
 * When each TLS options object's client certificate is next checked (wall-clock epoch ms). Keyed
 * by the options object a transport connects with (its `tls`, or what a reloadTls made of it):
 * a pool's connections share one, so a certificate is warned of once, not at every connect. Weak:
 * an entry lives as long as its options, so it holds nothing the process let go of.
 */
const nextCheck = new WeakMap<TlsOptions, number>();

/**
 * Warns, through a client's logger, of the certificate it presents to servers that ask for one
 * (mTLS: `tls.cert` on connect) when it has expired, is not yet valid, or expires within
 * `tls.expiryWarningMs`: the listener's warning (CertificateExpiryWatch), with the line a
 * server's handshake failures do not give. A transport calls it as it dials with TLS. Once per
 * options object, and again at the first connect a day later while the certificate still calls
 * for it; one valid for longer is read again only once its date comes within the window. So a
 * connect costs a lookup; only the first one, then one a day at the most, reads the certificate.
 * It never throws: a certificate the reader fails on, or a logger that throws, fails no connect.
 * A connect with no logger (or the silent one) checks nothing, leaving the check to one that has.
 */
export function warnOfClientCertificate(tls: TlsOptions | undefined, logger: Logger | undefined, wallNow: () => number = Date.now): void {
  if (tls?.cert === undefined || logger === undefined || logger === silentLogger) return;
  const now = wallNow();
  const due = nextCheck.get(tls);
  if (due !== undefined && now < due) return;
  nextCheck.set(tls, checked(tls, now, logger));
}

/** Checks `tls.cert` at `now`, warning when it calls for it; returns when to check it next. */
function checked(tls: TlsOptions, now: number, logger: Logger): number {
  const v = certificateValidity(tls.cert!);
  if (v === undefined) return Infinity;
  const warnMs = tls.expiryWarningMs ?? DEFAULT_TLS_EXPIRY_WARNING_MS;
  // Not a duration: resolveTls refuses these options, and every connect with them fails saying so.
  if (!(warnMs >= 0 && Number.isFinite(warnMs))) return Infinity;
  const why = expiryWarning(v, now, warnMs, 'connect');
  // Valid for longer than the window: nothing to say until its date comes within it.
  if (why === undefined) return v.notAfter - warnMs;
  guardedLogger(logger).warn(validityFields(v), why);
  return now + EXPIRY_WARNING_REPEAT_MS;
}
