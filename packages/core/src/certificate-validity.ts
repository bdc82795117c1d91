import { BEGIN, END, base64, children, type Tlv } from './pem-certificates.js';

/**
 * A certificate's subject and validity, read from its DER by the reader core checks certificates
 * with (pem-certificates.ts): the same on every runtime and transport, with no parser of the
 * runtime's (browsers, and transports that know no runtime, have none).
 */
export interface CertificateValidity {
  /** The subject as `CN=localhost,O=Example` (the attributes in their order, as PeerIdentity's). */
  readonly subject: string;
  /** Epoch ms. */
  readonly notBefore: number;
  /** Epoch ms. */
  readonly notAfter: number;
}

/**
 * The validity of the first certificate in `pem` (a chain's leaf, the one a peer checks first),
 * or undefined when there is none or it does not read (resolveTls refuses a damaged one first).
 */
export function leafValidity(pem: string): CertificateValidity | undefined {
  const at = pem.indexOf(BEGIN);
  const end = pem.indexOf(END, at);
  if (at === -1 || end === -1) return undefined;
  const der = base64(pem.slice(at + BEGIN.length, end).replace(/[ \t\r\n]/g, ''));
  if (der === undefined) return undefined;
  const top = children(der, { tag: 0, start: 0, end: der.length }, 0);
  if (typeof top === 'string' || top[0] === undefined) return undefined;
  const parts = children(der, top[0], 1);
  if (typeof parts === 'string' || parts[0] === undefined) return undefined;
  const tbs = children(der, parts[0], 2);
  if (typeof tbs === 'string') return undefined;
  // TBSCertificate: [0] version (optional), serial, signature, issuer, validity, subject, ...
  const fields = tbs[0]?.tag === 0xa0 ? tbs.slice(1) : tbs;
  const [validity, subject] = [fields[3], fields[4]];
  if (validity === undefined || subject === undefined) return undefined;
  const times = children(der, validity, 3);
  if (typeof times === 'string' || times.length !== 2) return undefined;
  const [notBefore, notAfter] = times.map((t) => timeOf(der, t));
  if (notBefore === undefined || notAfter === undefined) return undefined;
  return { subject: nameOf(der, subject), notBefore, notAfter };
}

/** Bytes as Latin-1, a char at a time: spread into fromCharCode, a value past ~120 KB (a subject attribute OpenSSL loads) overflows the stack. */
function latin1(der: Uint8Array, t: Tlv): string {
  let s = '';
  for (let i = t.start; i < t.end; i++) s += String.fromCharCode(der[i]!);
  return s;
}

/** UTCTime (YYMMDDHHMMSSZ; years 50-99 are 19xx, RFC 5280) or GeneralizedTime (YYYYMMDDHHMMSS[.f]Z), as epoch ms. */
function timeOf(der: Uint8Array, t: Tlv): number | undefined {
  const s = latin1(der, t);
  const m = t.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s) : t.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(s) : null;
  if (!m) return undefined;
  const [year, month, day, hour, minute, second = '0'] = m.slice(1).map((n) => n ?? '0');
  const y = Number(year);
  const fullYear = t.tag === 0x17 ? (y >= 50 ? 1900 + y : 2000 + y) : y;
  return Date.UTC(fullYear, Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
}

/** The short names OpenSSL prints for the attributes a certificate's subject usually holds. */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.42': 'GN',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** Name ::= SEQUENCE OF SET OF { type OID, value }, as `CN=x,O=y`; '' for an empty one. */
function nameOf(der: Uint8Array, name: Tlv): string {
  const parts: string[] = [];
  const rdns = children(der, name, 4);
  if (typeof rdns === 'string') return '';
  for (const rdn of rdns) {
    const attributes = children(der, rdn, 5);
    if (typeof attributes === 'string') continue;
    for (const attribute of attributes) {
      const [type, value] = children(der, attribute, 6) as Tlv[];
      if (type?.tag !== 0x06 || value === undefined) continue;
      const oid = oidOf(der.subarray(type.start, type.end));
      parts.push(`${SHORT_NAMES[oid] ?? oid}=${stringOf(der, value)}`);
    }
  }
  return parts.join(',');
}

function oidOf(content: Uint8Array): string {
  const arcs: number[] = [];
  let n = 0;
  for (const b of content) {
    n = n * 128 + (b & 0x7f);
    if (b & 0x80) continue;
    if (arcs.length === 0) arcs.push(n < 80 ? Math.floor(n / 40) : 2, n < 80 ? n % 40 : n - 80);
    else arcs.push(n);
    n = 0;
  }
  return arcs.join('.');
}

/** A DirectoryString's text: UTF8String, PrintableString, IA5String, TeletexString (read as Latin-1), BMPString; other types as `#` and hex. */
function stringOf(der: Uint8Array, v: Tlv): string {
  const bytes = der.subarray(v.start, v.end);
  switch (v.tag) {
    case 0x0c:
      return new TextDecoder().decode(bytes);
    case 0x13:
    case 0x16:
    case 0x14:
      return latin1(der, v);
    case 0x1e:
      return new TextDecoder('utf-16be').decode(bytes);
    default:
      return `#${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
}
