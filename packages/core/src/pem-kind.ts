/**
 * What a PEM text holds, by its BEGIN labels, and whether that is what an option wants. A key
 * given as the certificate (or the other way round) is the commonest TLS mix-up; the TLS
 * libraries then say only "no start line" or "DECODER routines::unsupported", naming neither
 * the option nor what was in it.
 */

export type PemWanted = 'certificate' | 'private key';

const BEGIN_LABEL = /^-----BEGIN ([A-Z0-9 ]+)-----[ \t\r]*$/gm;

/** Every label (`CERTIFICATE`, `EC PRIVATE KEY`...) of the BEGIN lines in `pem`, in order, once each. */
export function pemLabels(pem: string): string[] {
  return [...new Set([...pem.matchAll(BEGIN_LABEL)].map((m) => m[1]!))];
}

/** `CERTIFICATE`, `TRUSTED CERTIFICATE`... for a certificate; `PRIVATE KEY`, `RSA PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`... for a key. */
const fits = (label: string, want: PemWanted): boolean => (want === 'certificate' ? /(^| )CERTIFICATE$/ : /(^| )PRIVATE KEY$/).test(label);

/**
 * `holds a PRIVATE KEY, not a CERTIFICATE` when `pem` has PEM blocks but none of the kind wanted;
 * undefined when one fits, or when it holds no PEM block at all (that, and damage inside a
 * block, is left to the checks and libraries that read it). Says labels only, never contents.
 */
export function wrongPemKind(pem: string, want: PemWanted): string | undefined {
  const labels = pemLabels(pem);
  if (labels.length === 0 || labels.some((l) => fits(l, want))) return undefined;
  return `holds ${labels.map(withArticle).join(' and ')}, not ${withArticle(want.toUpperCase())}`;
}

/** `a CERTIFICATE`, `an EC PRIVATE KEY`, `an RSA PRIVATE KEY`: the article as the label is read aloud (none for a plural). */
function withArticle(label: string): string {
  if (label.endsWith('PARAMETERS')) return label;
  return `${/^([AEIOU]|RSA\b|X509|SSH)/.test(label) ? 'an' : 'a'} ${label}`;
}
