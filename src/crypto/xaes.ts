// XAES-256-GCM (c2sp.org/XAES-256-GCM) and the seal/open envelope around every stored repository object.
// Must never return plaintext that failed authentication, never reuse a nonce, and never let key bytes reach an error.

import { createCipheriv, createDecipheriv, randomFillSync, type Cipher } from 'node:crypto';
import { IntegrityError, RepoError } from '../core/errors.js';

export const XAES_KEY_LENGTH = 32;
export const XAES_NONCE_LENGTH = 24;
export const XAES_TAG_LENGTH = 16;
/** Bytes `seal` adds to a plaintext: the 24-byte random nonce in front and the 16-byte GCM tag behind. */
export const SEAL_OVERHEAD = XAES_NONCE_LENGTH + XAES_TAG_LENGTH;

// Encrypting in slices and copying each into the preallocated output while it is still in cache is
// measurably faster for multi-MiB objects than one big update() followed by a second full-size copy.
const ENCRYPT_SLICE = 64 * 1024;

const EMPTY = new Uint8Array(0);

function checkLength(value: Uint8Array, length: number, what: string): void {
  if (!(value instanceof Uint8Array) || value.byteLength !== length) {
    throw new RepoError('INVALID_ARGUMENT', `XAES-256-GCM ${what} must be ${length} bytes`);
  }
}

// Nonces are cut from a block of fresh random bytes: one call into the OS generator per 170 seals instead
// of one per seal (a measurable share of sealing many small blobs). Every byte is handed out once only.
const nonceBlock = Buffer.alloc(XAES_NONCE_LENGTH * 170);
let nonceAt = nonceBlock.length;

function takeNonce(out: Buffer): void {
  if (nonceAt === nonceBlock.length) {
    randomFillSync(nonceBlock);
    nonceAt = 0;
  }
  nonceBlock.copy(out, 0, nonceAt, nonceAt + XAES_NONCE_LENGTH);
  nonceBlock.fill(0, nonceAt, nonceAt + XAES_NONCE_LENGTH);
  nonceAt += XAES_NONCE_LENGTH;
}

/** The CMAC subkey K1 = L << 1, XOR 0x87 into the last byte when the bit shifted out was set. */
function cmacSubkey(l: Uint8Array): Buffer {
  const k1 = Buffer.alloc(16);
  for (let i = 0; i < 15; i++) k1[i] = ((l[i] << 1) | (l[i + 1] >>> 7)) & 0xff;
  k1[15] = (l[15] << 1) & 0xff;
  // Branch-free so the timing does not depend on a bit of key-derived material.
  k1[15] ^= 0x87 & -(l[0] >>> 7);
  return k1;
}

/**
 * An XAES-256-GCM key with its per-key state (the AES-256 key schedule used for subkey derivation and
 * K1) computed once, so sealing many objects under one key costs one ECB block pair plus one GCM setup each.
 */
export class XaesKey {
  readonly #ecb: Cipher;
  // K1 XOR the fixed first four bytes of M1 and M2; only the nonce bytes are XORed in per message.
  readonly #template: Buffer;
  readonly #block = Buffer.alloc(32);

  constructor(key: Uint8Array) {
    checkLength(key, XAES_KEY_LENGTH, 'key');
    // ECB without padding is raw AES-256 block encryption. The cipher object is never finalised, so it can
    // be fed block-aligned input forever without repeating the key expansion.
    this.#ecb = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
    const l = this.#aes(Buffer.alloc(16));
    const k1 = cmacSubkey(l);
    l.fill(0);
    this.#template = Buffer.alloc(32);
    for (let i = 0; i < 16; i++) {
      this.#template[i] = k1[i];
      this.#template[16 + i] = k1[i];
    }
    this.#template[1] ^= 0x01;
    this.#template[2] ^= 0x58; // 'X'
    this.#template[17] ^= 0x02;
    this.#template[18] ^= 0x58;
    k1.fill(0);
  }

  #aes(blocks: Buffer): Buffer {
    const out = this.#ecb.update(blocks);
    if (out.length !== blocks.length) throw new Error('AES-256-ECB returned a short block');
    return out;
  }

  /** AES-K(M1 ^ K1) || AES-K(M2 ^ K1). The caller must wipe the result once the GCM cipher holds it. */
  #derive(nonce: Uint8Array): Buffer {
    const block = this.#block;
    this.#template.copy(block);
    for (let i = 0; i < 12; i++) {
      block[4 + i] ^= nonce[i];
      block[20 + i] ^= nonce[i];
    }
    const derived = this.#aes(block);
    block.fill(0);
    return derived;
  }

  /** Writes ciphertext || tag (plaintext.length + 16 bytes) into `out` at `offset`. */
  #encryptInto(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Buffer, offset: number): void {
    const dk = this.#derive(nonce);
    const cipher = createCipheriv('aes-256-gcm', dk, nonce.subarray(12, 24), { authTagLength: XAES_TAG_LENGTH });
    dk.fill(0);
    if (aad.byteLength > 0) cipher.setAAD(aad);
    let pos = offset;
    for (let start = 0; start < plaintext.byteLength; start += ENCRYPT_SLICE) {
      const piece = cipher.update(plaintext.subarray(start, start + ENCRYPT_SLICE));
      pos += piece.copy(out, pos);
    }
    pos += cipher.final().copy(out, pos);
    // GCM is a stream mode: anything but a length-preserving transform means the output is wrong.
    if (pos !== offset + plaintext.byteLength) throw new Error('AES-256-GCM produced an unexpected ciphertext length');
    cipher.getAuthTag().copy(out, pos);
  }

  /** XAES-256-GCM encryption with a caller-chosen nonce; returns ciphertext || 16-byte tag. */
  encrypt(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = EMPTY): Buffer {
    checkLength(nonce, XAES_NONCE_LENGTH, 'nonce');
    const out = Buffer.allocUnsafe(plaintext.byteLength + XAES_TAG_LENGTH);
    this.#encryptInto(nonce, plaintext, aad, out, 0);
    return out;
  }

  /** XAES-256-GCM decryption; throws IntegrityError unless the tag authenticates ciphertext and aad. */
  decrypt(nonce: Uint8Array, ciphertextWithTag: Uint8Array, aad: Uint8Array = EMPTY): Buffer {
    checkLength(nonce, XAES_NONCE_LENGTH, 'nonce');
    if (ciphertextWithTag.byteLength < XAES_TAG_LENGTH) {
      throw new IntegrityError('XAES-256-GCM ciphertext is shorter than its authentication tag');
    }
    const tagAt = ciphertextWithTag.byteLength - XAES_TAG_LENGTH;
    const dk = this.#derive(nonce);
    const decipher = createDecipheriv('aes-256-gcm', dk, nonce.subarray(12, 24), { authTagLength: XAES_TAG_LENGTH });
    dk.fill(0);
    decipher.setAuthTag(ciphertextWithTag.subarray(tagAt));
    if (aad.byteLength > 0) decipher.setAAD(aad);
    const plaintext = decipher.update(ciphertextWithTag.subarray(0, tagAt));
    try {
      decipher.final();
    } catch (err) {
      // The bytes are unauthenticated; scrub them so no caller can use them by accident.
      plaintext.fill(0);
      throw new IntegrityError(
        'authentication failed: wrong key, or the data was corrupted or tampered with',
        {},
        { cause: err },
      );
    }
    return plaintext;
  }

  /** The repository envelope: random 24-byte nonce || ciphertext || 16-byte tag, in one allocation. */
  seal(plaintext: Uint8Array, aad: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(plaintext.byteLength + SEAL_OVERHEAD);
    // 192-bit random nonces are what XAES exists for: collisions are negligible without any counter state.
    takeNonce(out);
    this.#encryptInto(out.subarray(0, XAES_NONCE_LENGTH), plaintext, aad, out, XAES_NONCE_LENGTH);
    return out;
  }

  /** Opens a `seal` envelope; throws IntegrityError if it is too short or does not authenticate. */
  open(sealed: Uint8Array, aad: Uint8Array): Buffer {
    if (sealed.byteLength < SEAL_OVERHEAD) {
      throw new IntegrityError(
        `sealed object is ${sealed.byteLength} bytes, shorter than the ${SEAL_OVERHEAD}-byte envelope`,
      );
    }
    return this.decrypt(sealed.subarray(0, XAES_NONCE_LENGTH), sealed.subarray(XAES_NONCE_LENGTH), aad);
  }
}

/** One-shot XAES-256-GCM encryption; prefer an XaesKey when encrypting more than once under a key. */
export function xaesEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Buffer {
  return new XaesKey(key).encrypt(nonce, plaintext, aad);
}

/** One-shot XAES-256-GCM decryption; throws IntegrityError on authentication failure. */
export function xaesDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertextWithTag: Uint8Array,
  aad?: Uint8Array,
): Buffer {
  return new XaesKey(key).decrypt(nonce, ciphertextWithTag, aad);
}

/** One-shot `XaesKey.seal`. */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  return new XaesKey(key).seal(plaintext, aad);
}

/** One-shot `XaesKey.open`. */
export function open(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer {
  return new XaesKey(key).open(sealed, aad);
}

export interface XaesIntermediates {
  L: Buffer;
  K1: Buffer;
  M1: Buffer;
  M2: Buffer;
  derivedKey: Buffer;
  derivedNonce: Buffer;
}

/**
 * Every intermediate value of the XAES key derivation, computed independently of XaesKey's cached
 * path so the test vectors check both. Test use only: it returns secret-derived material.
 */
export function xaesIntermediates(key: Uint8Array, nonce: Uint8Array): XaesIntermediates {
  checkLength(key, XAES_KEY_LENGTH, 'key');
  checkLength(nonce, XAES_NONCE_LENGTH, 'nonce');
  const aes = (block: Buffer): Buffer => createCipheriv('aes-256-ecb', key, null).setAutoPadding(false).update(block);
  const L = aes(Buffer.alloc(16));
  const K1 = cmacSubkey(L);
  const M1 = Buffer.concat([Buffer.from([0x00, 0x01, 0x58, 0x00]), nonce.subarray(0, 12)]);
  const M2 = Buffer.concat([Buffer.from([0x00, 0x02, 0x58, 0x00]), nonce.subarray(0, 12)]);
  const xor = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((v, i) => v ^ b[i]));
  const derivedKey = Buffer.concat([aes(xor(M1, K1)), aes(xor(M2, K1))]);
  return { L, K1, M1, M2, derivedKey, derivedNonce: Buffer.from(nonce.subarray(12, 24)) };
}
