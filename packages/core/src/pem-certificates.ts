/**
 * Finds the damaged certificate in PEM text before a TLS library loads it. OpenSSL (Node) stops
 * loading a CA bundle at its first damaged block, silently, and BoringSSL (Bun) does so after
 * the first good one: the peer is then trusted less than asked, and every handshake is refused
 * later with a confusing error. rustls (Deno) refuses bad base64 but takes damaged DER until the
 * handshake. Checked here the same way for every runtime: each `-----BEGIN CERTIFICATE-----`
 * block must end, its BEGIN and END lines hold nothing else, its body be base64, and that decode to one DER X.509 Certificate (a SEQUENCE of
 * two SEQUENCEs and a BIT STRING, the tbsCertificate's fields in their order, every nested length
 * in bounds, every object identifier whole). What lies inside a field (a name's parts, a key) is
 * left to the runtime's parser (CertificateParser). Text between blocks (the comments of a system
 * bundle) is ignored, as the TLS libraries ignore it.
 */

export const BEGIN = '-----BEGIN CERTIFICATE-----';
export const END = '-----END CERTIFICATE-----';
/** Nesting deeper than any real certificate (X.509 nests about 8 deep): refused, not recursed into. */
const MAX_DEPTH = 32;

/**
 * A runtime's own certificate parser, run on each block that passed the checks here (one PEM
 * certificate): what is wrong with it, or undefined. Node's X509Certificate is OpenSSL's own
 * parser, which also refuses a damaged name that the structural check here lets through.
 */
export type CertificateParser = (pem: string) => string | undefined;

/** The CertificateParser of a class that throws on a certificate it cannot parse (`X509Certificate` of node:crypto). */
export function parsedBy(Certificate: new (pem: string) => unknown): CertificateParser {
  return (pem) => {
    try {
      new Certificate(pem);
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  };
}

/**
 * What is wrong with the first damaged certificate of a CA (resolved: one PEM text per entry),
 * naming the entry (`tls.ca`, or `tls.ca[1]` of several) and the certificate in it
 * (`certificate 2 of 3 (line 24)`); undefined when every one is whole.
 */
export function damagedCa(ca: readonly string[], parse?: CertificateParser): string | undefined {
  for (const [i, one] of ca.entries()) {
    if (isWhole(one, parse)) continue;
    const why = damagedCertificate(one, parse);
    if (why !== undefined) return `${ca.length === 1 ? 'tls.ca' : `tls.ca[${i}]`}: ${why}`;
    wholeCas(parse).add(one);
  }
  return undefined;
}

/**
 * CA texts found whole, per parser: a client checks its CA at every connect, and a system bundle
 * (150 certificates) takes tens of ms to parse. Bounded: a process uses a few CAs, not many.
 */
const WHOLE_CAS_KEPT = 16;
const wholeByParser = new Map<CertificateParser | undefined, Set<string>>();

function wholeCas(parse: CertificateParser | undefined): Set<string> {
  let whole = wholeByParser.get(parse);
  if (!whole) wholeByParser.set(parse, (whole = new Set()));
  if (whole.size >= WHOLE_CAS_KEPT) whole.clear();
  return whole;
}

const isWhole = (pem: string, parse: CertificateParser | undefined): boolean => wholeByParser.get(parse)?.has(pem) === true;

/** Why the first damaged certificate in `pem` is damaged, naming it, or undefined when all are whole. */
export function damagedCertificate(pem: string, parse?: CertificateParser): string | undefined {
  const blocks = certificateBlocks(pem);
  for (const [i, b] of blocks.entries()) {
    const why = b.body === undefined ? `has no ${END} line` : (markerProblem(pem, b) ?? whyNotCertificate(b.body) ?? parsed(b.body, parse));
    if (why !== undefined) return `certificate ${i + 1} of ${blocks.length} (line ${lineOf(pem, b.at)}) ${why}`;
  }
  return undefined;
}

function parsed(body: string, parse: CertificateParser | undefined): string | undefined {
  const why = parse?.(`${BEGIN}${body}${END}\n`);
  return why === undefined ? undefined : `does not parse as a certificate: ${why}`;
}

interface Block {
  /** Where its BEGIN is in the text. */
  readonly at: number;
  /** The text between BEGIN and END; undefined when it has no END. */
  readonly body: string | undefined;
}

function certificateBlocks(pem: string): Block[] {
  const blocks: Block[] = [];
  for (let at = pem.indexOf(BEGIN); at !== -1; ) {
    const from = at + BEGIN.length;
    const end = pem.indexOf(END, from);
    const next = pem.indexOf(BEGIN, from);
    // A BEGIN before this block's END: this block lost its END (a file cut short, then appended to).
    const closed = end !== -1 && (next === -1 || end < next);
    blocks.push({ at, body: closed ? pem.slice(from, end) : undefined });
    at = next;
  }
  return blocks;
}

/**
 * What is wrong with the BEGIN or END line of a closed block, or undefined. OpenSSL and rustls
 * read PEM by lines: a marker with text before it on its line (an indented block), or an END with
 * text after it (`cat` of a file without a final newline glues the next BEGIN to it), is no
 * marker to them, and the block is not loaded, silently. Whitespace after a
 * marker and a byte order mark before the text are read as OpenSSL reads them (taken).
 */
function markerProblem(pem: string, b: Block): string | undefined {
  const end = b.at + BEGIN.length + b.body!.length;
  if (!startsLine(pem, b.at) || !endsLine(pem, b.at + BEGIN.length)) return `is skipped by TLS libraries: its ${BEGIN} is not alone on its line`;
  if (!startsLine(pem, end) || !endsLine(pem, end + END.length)) return `is skipped by TLS libraries: its ${END} is not alone on its line`;
  return undefined;
}

const startsLine = (text: string, at: number): boolean => at === 0 || text[at - 1] === '\n' || (at === 1 && text[0] === '\ufeff');

/** Only spaces, tabs or a CR from `from` to the end of its line. */
function endsLine(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) return true;
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

/** The 1-based line `at` is on (counted only for the error: a bundle has thousands). */
function lineOf(text: string, at: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < at; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function whyNotCertificate(body: string): string | undefined {
  const der = base64(body.replace(/[ \t\r\n]/g, ''));
  if (der === undefined) return 'is not base64 (damaged or edited text)';
  const why = derCertificateProblem(der);
  return why === undefined ? undefined : `is not a DER certificate: ${why} (truncated or damaged)`;
}

/** Each base64 character's 6 bits; 64 for a character that is not one. */
const SEXTET = new Uint8Array(128).fill(64);
[...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].forEach((c, i) => (SEXTET[c.charCodeAt(0)] = i));

/** Strict base64 (padded, the standard alphabet, whitespace dropped first), or undefined. */
export function base64(text: string): Uint8Array | undefined {
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (text.length === 0 || text.length % 4 !== 0) return undefined;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let bits = 0;
  let n = 0;
  let o = 0;
  for (let i = 0; i < text.length - pad; i++) {
    const code = text.charCodeAt(i);
    const sextet = code < 128 ? SEXTET[code]! : 64;
    if (sextet === 64) return undefined;
    bits = ((bits << 6) | sextet) & 0xffffff;
    n += 6;
    if (n >= 8) {
      n -= 8;
      out[o++] = (bits >> n) & 0xff;
    }
  }
  return out;
}

/** A DER element: its tag, and where its content is. */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
}

/** What is wrong with `der` as a Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }, or undefined. */
function derCertificateProblem(der: Uint8Array): string | undefined {
  const top = readTlv(der, 0, der.length);
  if (typeof top === 'string') return top;
  if (top.tag !== 0x30) return 'it does not start with a SEQUENCE';
  if (top.end !== der.length) return `${der.length - top.end} bytes after its end`;
  const parts = children(der, top, 1);
  if (typeof parts === 'string') return parts;
  const tags = parts.map((p) => p.tag);
  if (tags.length !== 3 || tags[0] !== 0x30 || tags[1] !== 0x30 || tags[2] !== 0x03) return 'not the three parts of a certificate';
  const fields = children(der, parts[0]!, 2) as Tlv[];
  // [0] EXPLICIT Version: an INTEGER.
  if (fields[0]?.tag === 0xa0 && der[fields[0].start] !== 0x02) return 'its version is not a number';
  return tbsProblem(fields);
}

/**
 * The fields of a TBSCertificate in their order: [0] version (optional), serial INTEGER, then
 * the SEQUENCEs signature, issuer, validity, subject and subjectPublicKeyInfo, then context
 * tags ([1], [2] unique ids, [3] extensions). A damaged tag byte shows here.
 */
function tbsProblem(fields: readonly Tlv[]): string | undefined {
  const tags = fields.map((f) => f.tag);
  const rest = tags[0] === 0xa0 ? tags.slice(1) : tags;
  const ok = rest.length >= 6 && rest[0] === 0x02 && rest.slice(1, 6).every((t) => t === 0x30) && rest.slice(6).every((t) => (t & 0xc0) === 0x80);
  return ok ? undefined : 'its fields are not those of a certificate';
}

/** The elements inside a constructed one, each checked down to its leaves; or what is wrong. */
export function children(der: Uint8Array, parent: Tlv, depth: number): Tlv[] | string {
  if (depth > MAX_DEPTH) return 'nested too deep';
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const tlv = readTlv(der, at, parent.end);
    if (typeof tlv === 'string') return tlv;
    if (tlv.tag & 0x20) {
      const inner = children(der, tlv, depth + 1);
      if (typeof inner === 'string') return inner;
    } else if (tlv.tag === 0x06 && !wholeOid(der.subarray(tlv.start, tlv.end))) {
      return 'a damaged object identifier';
    }
    out.push(tlv);
    at = tlv.end;
  }
  return out;
}

/** An OBJECT IDENTIFIER's content: base-128 numbers, each minimal (no leading 0x80) and the last one ended (no 0x80 bit on the last byte). */
function wholeOid(content: Uint8Array): boolean {
  if (content.length === 0 || content[content.length - 1]! & 0x80) return false;
  return content.every((b, i) => b !== 0x80 || (i > 0 && content[i - 1]! & 0x80));
}

/** The element at `at`, which must end by `limit`; or what is wrong. Low tag numbers and definite lengths only (DER, X.509). */
function readTlv(der: Uint8Array, at: number, limit: number): Tlv | string {
  if (at + 2 > limit) return 'an element cut short';
  const tag = der[at]!;
  if ((tag & 0x1f) === 0x1f) return `an unexpected tag 0x${tag.toString(16)}`;
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const bytes = len & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > limit) return 'a bad length';
    len = 0;
    for (let i = 0; i < bytes; i++) len = len * 256 + der[start + i]!;
    start += bytes;
  }
  if (start + len > limit) return 'an element longer than what holds it';
  return { tag, start, end: start + len };
}
