// Minimal DER encoders for the parts of a certificate that change with every
// issuance. Everything fixed per CA is encoded once by @peculiar/asn1-x509;
// encoding a whole TBSCertificate through it costs ~30× an ECDSA signature,
// which would make the encoder, not the signature, the CA's limit.

export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.of(0x80 | bytes.length, ...bytes);
}

export function derTlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = content.length === 1 ? content[0]! : Buffer.concat(content);
  return Buffer.concat([Buffer.of(tag), derLength(body.length), body]);
}

export const derSequence = (...content: Uint8Array[]) => derTlv(0x30, ...content);
export const derSet = (...content: Uint8Array[]) => derTlv(0x31, ...content);
export const derOctetString = (bytes: Uint8Array) => derTlv(0x04, bytes);
export const derUtf8String = (text: string) => derTlv(0x0c, Buffer.from(text, 'utf8'));
/** BIT STRING with zero unused bits. */
export const derBitString = (bytes: Uint8Array) => derTlv(0x03, Buffer.of(0), bytes);
/** [n] EXPLICIT */
export const derExplicit = (n: number, ...content: Uint8Array[]) => derTlv(0xa0 | n, ...content);

/** A non-negative INTEGER from big-endian magnitude bytes. */
export function derUnsignedInteger(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  return (trimmed[0] ?? 0) & 0x80 ? derTlv(0x02, Buffer.of(0), trimmed) : derTlv(0x02, trimmed);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds. */
export function derTime(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-11-23T10:00:00.000Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z'; // 20261123100000Z
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? derTlv(0x17, Buffer.from(digits.slice(2), 'latin1')) : derTlv(0x18, Buffer.from(digits, 'latin1'));
}
