/**
 * PEM certificates damaged the ways a file gets damaged (edited by hand, cut short by a failed
 * copy, two files concatenated), made from a good one, for tests that a runtime refuses them
 * rather than loading less than was given. `block` is the damaged certificate's number in it.
 */
export interface DamagedPem {
  readonly name: string;
  readonly pem: string;
  readonly block: number;
}

const NOT_BASE64 = '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n';

export function damagedPems(good: string): DamagedPem[] {
  const lines = good.trim().split('\n');
  const [begin, body, end] = [lines[0]!, lines.slice(1, -1), lines.at(-1)!];
  const pem = (b: string[]): string => [begin, ...b, end].join('\n') + '\n';
  const truncated = pem(body.slice(0, 3));
  // The first byte of the second line is the tbsCertificate's serial number tag: base64 still, DER no longer.
  const retagged = pem([body[0]!, (body[1]![0] === 'A' ? 'B' : 'A') + body[1]!.slice(1), ...body.slice(2)]);
  return [
    { name: 'a body that is not base64', pem: NOT_BASE64, block: 1 },
    { name: 'a base64 body cut short (truncated DER)', pem: truncated, block: 1 },
    { name: 'a base64 body with a damaged character', pem: pem([body[0]!, `!${body[1]!.slice(1)}`, ...body.slice(2)]), block: 1 },
    { name: 'a base64 body whose DER is damaged inside', pem: retagged, block: 1 },
    { name: 'a block with no END line', pem: `${begin}\n${body.join('\n')}\n`, block: 1 },
    { name: 'a good block, then one that is not base64', pem: good + NOT_BASE64, block: 2 },
    { name: 'a good block, then a truncated one', pem: good + truncated, block: 2 },
    // Lines a TLS library reads as no marker: it skips the block, silently.
    { name: 'a good block, then an indented one', pem: good + pem(body).replace(/^(?=.)/gm, '  '), block: 2 },
    { name: 'a good block, then one with text after its END', pem: good + [begin, ...body, `${end} # the chain ends here`].join('\n') + '\n', block: 2 },
  ];
}

/**
 * `good` with its issuer name damaged inside (its first SET made a SEQUENCE): whole base64 and
 * DER, refused only by a full X.509 parser (OpenSSL's, BoringSSL's), which a CA load would
 * otherwise stop at, silently.
 */
export function damagedInside(good: string): string {
  const der = Uint8Array.from(atob(good.replace(/-----[A-Z ]+-----|\s/g, '')), (c) => c.charCodeAt(0));
  // Certificate { tbsCertificate { [0] version, serial, signature, issuer { SET ...
  const tbs = contentOf(der, 0).start;
  let field = contentOf(der, tbs).start;
  for (let n = 0; n < 3; n++) field = contentOf(der, field).end;
  der[contentOf(der, field).start] = 0x30;
  const base64 = btoa(String.fromCharCode(...der)).replace(/.{64}/g, '$&\n').trim();
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

/** Where the content of the DER element at `at` starts and ends. */
function contentOf(der: Uint8Array, at: number): { start: number; end: number } {
  const first = der[at + 1]!;
  const bytes = first & 0x80 ? first & 0x7f : 0;
  let len = bytes ? 0 : first;
  for (let i = 0; i < bytes; i++) len = len * 256 + der[at + 2 + i]!;
  const start = at + 2 + bytes;
  return { start, end: start + len };
}

/** `cas` as a system bundle has them (/etc/ssl/certs/ca-certificates.crt): comments, blank lines and whitespace between the blocks. */
export function caBundle(cas: readonly string[]): string {
  return cas.map((ca, i) => `# Test CA ${i + 1}\n# Issuer: a comment line, as Debian writes them\n\n${ca.trim()}\n  \n`).join('\n');
}
