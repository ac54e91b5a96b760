// 32-byte object ids and their lowercase-hex form. Pure functions, no I/O.

export const ID_LENGTH = 32;
export const ID_HEX_LENGTH = 64;

/** A 32-byte id as 64 lowercase hex characters. */
export type IdHex = string;

const HEX_RE = /^[0-9a-f]{64}$/;

export function isIdHex(s: string): boolean {
  return HEX_RE.test(s);
}

export function idToHex(id: Uint8Array): IdHex {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
}

export function idFromHex(hex: IdHex): Buffer {
  if (!isIdHex(hex)) throw new TypeError(`not a 64-character lowercase hex id: ${JSON.stringify(hex.slice(0, 80))}`);
  return Buffer.from(hex, 'hex');
}

export function shortId(hex: IdHex): string {
  return hex.slice(0, 8);
}
