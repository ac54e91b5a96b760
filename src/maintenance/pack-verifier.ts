// Proves every blob of a pack held in memory the way openSealedBlob does (XAES-256-GCM open with the blob
// AAD, zstd to exactly rawLength bytes, keyed BLAKE3 equal to the id), with per-thread state reused from
// blob to blob. `check --read-data` runs this over every byte of a repository, so the per-blob cost is what
// counts: openSealedBlob allocates a key block, an AAD, a whole-blob decryption output (page-faulting for
// large blobs), a decompression output and a hasher result per blob. Here the subkeys of a whole pack are
// derived in one AES call, decryption goes through small slices (node:crypto has no decrypt-into) that are
// hashed at once (stored blobs) or gathered in a reused buffer (zstd frames), and one zstd context, one
// output buffer and one keyed hasher serve every blob. The XAES key derivation is crypto/xaes.ts's, done
// here because XaesKey keeps it private.
// The result for every blob must stay exactly openSealedBlob's: test/maintenance/pack-verifier.test.ts
// compares them on damaged packs.

import { createCipheriv, createDecipheriv, type Cipher } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Blake3Hasher } from '@napi-rs/blake-hash';
import type bindingType from 'zstd-napi/binding.js';
import { idToHex } from '../core/id.js';
import { blobAad } from '../repository/aad.js';
import { Compression, type BlobEntry, type BlobType } from '../repository/blob.js';
import type { MasterKey } from '../repository/master-key.js';
import { blake3Binding } from '../crypto/blake3.js';

const NONCE = 24;
const TAG = 16;
/** Bytes a sealed blob adds to its stored form: nonce in front, tag behind (xaes.ts SEAL_OVERHEAD). */
const OVERHEAD = NONCE + TAG;
// decipher.update() returns a fresh buffer per call (for GCM Node even allocates it twice and copies).
// Slices of 64 KiB come from malloc's recycled memory and stay in cache for the next step; one update over
// a whole multi-MiB blob costs several times more in fresh, page-faulting memory (256 MiB in one update:
// 1.9 s of CPU, in 3 KiB slices 0.2 s). On 1 GiB of incompressible data 64 KiB beat 16, 32 and 128 KiB.
const SLICE = 64 * 1024;

/** Scratch buffers up to this size are kept for the next blob; a larger blob gets temporary ones. */
export const SCRATCH_KEEP = 8 * 1024 * 1024;

/** `current` if it holds `need` bytes, else a new buffer, which replaces `current` if it is not too big. */
export function scratch(current: Buffer, need: number, keep: (b: Buffer) => void): Buffer {
  if (current.length >= need) return current;
  const b = Buffer.allocUnsafeSlow(need);
  if (need <= SCRATCH_KEEP) keep(b);
  return b;
}

const GCM_OPTIONS = { authTagLength: TAG }; // one object for every decipher

// What a blob leaves behind besides its decrypted slices: the decipher's JS object and its native OpenSSL
// context, which V8 does not see, so it would let thousands pile up between collections.
const GARBAGE_PER_BLOB = 2048;

/** The CMAC subkey K1 of XAES-256-GCM (c2sp.org/XAES-256-GCM), as crypto/xaes.ts computes it. */
function cmacSubkey(l: Buffer): Buffer {
  const k1 = Buffer.alloc(16);
  for (let i = 0; i < 15; i++) k1[i] = ((l[i] << 1) | (l[i + 1] >>> 7)) & 0xff;
  k1[15] = (l[15] << 1) & 0xff;
  k1[15] ^= 0x87 & -(l[0] >>> 7); // branch-free: no timing that depends on key material
  return k1;
}

export interface BlobDamage {
  /** Position of the blob in the entries checked. */
  at: number;
  message: string;
}

/**
 * One thread's blob checker. Not reentrant: a thread verifies one pack at a time through it. Holds key
 * material (an AES key schedule and the id key) for its whole life, like the MasterKey it is made from.
 */
export class PackVerifier {
  readonly #ecb: Cipher;
  // K1 XOR the fixed bytes of XAES's M1 and M2; only the nonce's first 12 bytes vary per blob.
  readonly #template: Buffer;
  readonly #hasher: Blake3Hasher;
  // The addon is required by the first verifier, not when the module loads (every command would pay for it).
  readonly #dctx = new (createRequire(import.meta.url)('zstd-napi/binding.js') as typeof bindingType).DCtx();
  readonly #aad: Record<BlobType, Buffer>;
  // Kept from blob to blob; they grow to the largest blob seen, up to SCRATCH_KEEP.
  #plain: Buffer = Buffer.allocUnsafeSlow(256 * 1024);
  #raw: Buffer = Buffer.allocUnsafeSlow(1024 * 1024);

  /** `dropped`, if given, is told roughly how many bytes each blob left behind as garbage (core/worker-gc). */
  constructor(
    readonly key: MasterKey,
    private readonly dropped?: (bytes: number) => void,
  ) {
    const encKey = key.bytes().subarray(0, 32); // MasterKey.encryption is XaesKey(bytes[0..32])
    // Raw AES-256 block encryption from a never-finalised ECB cipher: one key expansion for all blobs.
    this.#ecb = createCipheriv('aes-256-ecb', encKey, null).setAutoPadding(false);
    const l = this.#ecb.update(Buffer.alloc(16));
    const k1 = cmacSubkey(l);
    l.fill(0);
    this.#template = Buffer.concat([k1, k1]);
    k1.fill(0);
    this.#template[1] ^= 0x01;
    this.#template[2] ^= 0x58; // 'X'
    this.#template[17] ^= 0x02;
    this.#template[18] ^= 0x58;
    // crypto/blake3.ts's Blake3Key, but fed slice by slice; its native hasher keeps the key across reset().
    this.#hasher = blake3Binding().Blake3Hasher.newKeyed(key.idKey);
    const zero = Buffer.alloc(32);
    this.#aad = { data: blobAad('data', zero), tree: blobAad('tree', zero) };
  }

  /**
   * Checks entries[from..to) and returns the damaged ones with openSealedBlob's message (`at`: position in
   * `entries`). `bytes` holds the pack from offset `base` on (a window of a pack read piece by piece); a
   * blob not wholly inside it is reported as lying beyond the end. `pack` is the pack's hex id, for messages.
   */
  verifyBlobs(
    pack: string,
    bytes: Buffer,
    entries: readonly BlobEntry[],
    base = 0,
    from = 0,
    to = entries.length,
  ): BlobDamage[] {
    const damaged: BlobDamage[] = [];
    const keys = this.#deriveAll(bytes, base, entries, from, to);
    try {
      for (let i = from; i < to; i++) {
        const e = entries[i];
        if (e.offset < base || e.offset - base + e.storedLength > bytes.length) {
          damaged.push({ at: i, message: 'blob lies beyond the end of the pack' });
          continue;
        }
        const outcome = this.#verifyBlob(e, bytes, e.offset - base, keys, (i - from) * 32);
        this.dropped?.(e.storedLength + GARBAGE_PER_BLOB);
        if (outcome !== undefined) damaged.push({ at: i, message: `blob ${idToHex(e.id)} in pack ${pack} ${outcome}` });
      }
    } finally {
      keys.fill(0);
    }
    return damaged;
  }

  /**
   * The XAES subkeys of entries[from..to), 32 bytes each, from one ECB call over all blocks: for each blob
   * AES-K(M1 ^ K1) || AES-K(M2 ^ K1), where M1 and M2 carry the first 12 bytes of its nonce. Blobs that
   * cannot be opened (outside `bytes`, too short) get a key that is never used.
   */
  #deriveAll(bytes: Buffer, base: number, entries: readonly BlobEntry[], from: number, to: number): Buffer {
    const blocks = Buffer.allocUnsafe((to - from) * 32);
    for (let i = from; i < to; i++) {
      const e = entries[i];
      const at = (i - from) * 32;
      const offset = e.offset - base;
      this.#template.copy(blocks, at);
      if (e.storedLength < OVERHEAD || offset < 0 || offset + e.storedLength > bytes.length) continue;
      for (let j = 0; j < 12; j++) {
        const n = bytes[offset + j];
        blocks[at + 4 + j] ^= n;
        blocks[at + 20 + j] ^= n;
      }
    }
    const keys = this.#ecb.update(blocks);
    blocks.fill(0);
    if (keys.length !== blocks.length) throw new Error('AES-256-ECB returned a short block');
    return keys;
  }

  /** undefined when the blob (at `offset` in `bytes`, its subkey at `key` in `keys`) is sound, else the end of openSealedBlob's message. */
  #verifyBlob(e: BlobEntry, bytes: Buffer, offset: number, keys: Buffer, key: number): string | undefined {
    if (e.storedLength < OVERHEAD) return 'is damaged';
    const start = offset + NONCE;
    const tagAt = offset + e.storedLength - TAG;
    const aad = this.#aad[e.type];
    e.id.copy(aad, aad.length - 32);
    const hasher = this.#hasher;
    hasher.reset();
    const zstd = e.compression !== Compression.None; // as decompressBlob decides
    const plain = zstd ? scratch(this.#plain, tagAt - start, (b) => (this.#plain = b)) : this.#plain;
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        keys.subarray(key, key + 32),
        bytes.subarray(offset + 12, start),
        GCM_OPTIONS,
      );
      decipher.setAuthTag(bytes.subarray(tagAt, tagAt + TAG));
      decipher.setAAD(aad);
      // A stored (uncompressed) blob is hashed slice by slice as it is decrypted; a zstd frame is gathered
      // first. Nothing decrypted counts unless final() authenticates it below.
      for (let at = start; at < tagAt; at += SLICE) {
        const piece = decipher.update(bytes.subarray(at, Math.min(at + SLICE, tagAt)));
        if (zstd) piece.copy(plain, at - start);
        else hasher.update(piece);
      }
      decipher.final();
      if (zstd) {
        const raw = scratch(this.#raw, e.rawLength, (b) => (this.#raw = b)).subarray(0, e.rawLength);
        // Exactly rawLength bytes of room, as decompressBlob gives: a larger frame fails, a shorter one is caught.
        if (this.#dctx.decompress(raw, plain.subarray(0, tagAt - start)) !== e.rawLength) return 'is damaged';
        hasher.update(raw);
      }
    } catch {
      return 'is damaged';
    }
    return hasher.digestBuffer().equals(e.id) ? undefined : 'does not match its id';
  }
}
