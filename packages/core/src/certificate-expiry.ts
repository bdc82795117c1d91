import { leafValidity, type CertificateValidity } from './certificate-validity.js';
import { systemClock } from './clock.js';
import { guardedLogger } from './guarded-logger.js';
import { silentLogger, type Logger } from './logger.js';
import type { Clock, Ticker } from './runtime.js';
import type { Pem, TlsOptions } from './tls.js';

/** TlsOptions.expiryWarningMs when not given: 14 days. */
export const DEFAULT_TLS_EXPIRY_WARNING_MS = 14 * 24 * 3600_000;

const DAY_MS = 24 * 3600_000;

/** How often a certificate that calls for a warning is warned of again: by a listener's timer, at a client's connects. */
export const EXPIRY_WARNING_REPEAT_MS = DAY_MS;

/**
 * The warning a certificate calls for at `now` (epoch ms), or undefined when it is valid for
 * longer than `warnMs`: expired, not yet valid, or expiring within `warnMs`. `side`: the
 * certificate a listener serves (clients refuse it) or the one a client presents (mTLS: servers
 * refuse it).
 */
export function expiryWarning(v: CertificateValidity, now: number, warnMs: number, side: 'listen' | 'connect' = 'listen'): string | undefined {
  const [what, peers] = side === 'listen' ? ['TLS certificate', 'clients'] : ['TLS client certificate', 'servers'];
  const subject = v.subject === '' ? '(no subject)' : v.subject;
  const notAfter = new Date(v.notAfter).toISOString();
  if (now >= v.notAfter) return `${what} ${subject} expired at ${notAfter}: ${peers} refuse it; renew it and reloadTls`;
  if (now < v.notBefore) return `${what} ${subject} is not valid until ${new Date(v.notBefore).toISOString()} (notAfter ${notAfter}): ${peers} refuse it until then (check the clocks)`;
  const left = v.notAfter - now;
  if (left > warnMs) return undefined;
  return `${what} ${subject} expires at ${notAfter}, in ${duration(left)}: renew it and reloadTls`;
}

/**
 * The validity of `cert`'s leaf, or undefined when it has none that reads. Advisory only: a
 * certificate this reader fails on is used as it was before it existed, never a listen, reload
 * or connect that throws, nor an uncaught error from a timer.
 */
export function certificateValidity(cert: Pem): CertificateValidity | undefined {
  try {
    return leafValidity(typeof cert === 'string' ? cert : new TextDecoder().decode(cert));
  } catch {
    return undefined;
  }
}

/** The fields of a warn line about `v`. */
export function validityFields(v: CertificateValidity): { subject: string; notBefore: string; notAfter: string } {
  return { subject: v.subject, notBefore: new Date(v.notBefore).toISOString(), notAfter: new Date(v.notAfter).toISOString() };
}

/** `3 days`, `5 hours`, `12 minutes`: the largest whole unit. */
function duration(ms: number): string {
  const [n, unit] = ms >= DAY_MS ? [Math.floor(ms / DAY_MS), 'day'] : ms >= 3600_000 ? [Math.floor(ms / 3600_000), 'hour'] : [Math.max(1, Math.floor(ms / 60_000)), 'minute'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/**
 * Watches the certificate a TLS listener serves: warns (one line, through the server's logger)
 * when it starts or reloads with a leaf certificate that is expired, not yet valid, or expires
 * within `tls.expiryWarningMs`, and again once a day while it serves one, so that a server
 * running for weeks says so as the date approaches. It never refuses a certificate: one renewed
 * in place must keep working, and clients decide. One unref'd ticker per listener (it keeps no
 * process alive), made at the first certificate and stopped by `stop` (the listener's close);
 * nothing per connection.
 */
export class CertificateExpiryWatch {
  private tls: TlsOptions | undefined;
  private ticker: Ticker | undefined;

  private readonly logger: Logger;

  constructor(
    /** The listener, as the line names it (`127.0.0.1:7000`). */
    private readonly listener: string,
    logger: Logger = silentLogger,
    private readonly clock: Clock = systemClock,
    /** Wall-clock time, epoch ms (certificates' dates are wall-clock; `clock.now` is not). */
    private readonly wallNow: () => number = Date.now,
  ) {
    // Its daily line comes from a timer: a logger that throws there must not end the process.
    this.logger = guardedLogger(logger);
  }

  /** The certificate served from now on (a listen, a reload): checked now, and daily after. */
  serving(tls: TlsOptions): void {
    this.tls = tls;
    this.check();
    if (this.ticker === undefined && tls.cert !== undefined) {
      this.ticker = this.clock.every(EXPIRY_WARNING_REPEAT_MS, () => this.check());
      this.ticker.unref?.();
    }
  }

  /** The listener closed: no more checks. */
  stop(): void {
    this.ticker?.stop();
    this.ticker = undefined;
    this.tls = undefined;
  }

  private check(): void {
    const cert = this.tls?.cert;
    const v = cert === undefined ? undefined : certificateValidity(cert);
    if (v === undefined) return;
    const why = expiryWarning(v, this.wallNow(), this.tls?.expiryWarningMs ?? DEFAULT_TLS_EXPIRY_WARNING_MS);
    if (why === undefined) return;
    this.logger.warn({ listener: this.listener, ...validityFields(v) }, why);
  }
}
