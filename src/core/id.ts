// 32-byte object ids and their lowercase-hex form. Pure functions, no I/O.

export const ID_LENGTH = 32;
export const ID_HEX_LENGTH = 64;

/** A 32-byte id as 64 lowercase hex characters. */
export type IdHex = string;

/** Every tree node's content and subtree ids pass through here: a character loop is several times faster than a regex. */
export function isIdHex(s: string): boolean {
  if (s.length !== ID_HEX_LENGTH) return false;
  for (let i = 0; i < ID_HEX_LENGTH; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
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
