// The repository's master key: an encryption key for every sealed object and an id key for blob ids.
// It lives only in memory; it is written to storage only sealed inside key files.

import { keyedBlake3 } from '../crypto/blake3.js';
import { XaesKey } from '../crypto/xaes.js';
import { randomBytes } from '../crypto/random.js';

export class MasterKey {
  readonly encryption: XaesKey;
  private readonly raw: Buffer;

  private constructor(raw: Buffer) {
    if (raw.length !== 64) throw new RangeError('a master key is 64 bytes');
    this.raw = raw;
    this.encryption = new XaesKey(raw.subarray(0, 32));
  }

  static generate(): MasterKey {
    return new MasterKey(Buffer.from(randomBytes(64)));
  }

  static fromBytes(raw: Uint8Array): MasterKey {
    return new MasterKey(Buffer.from(raw));
  }

  /** The 64 secret bytes, for sealing into a key file only. */
  bytes(): Buffer {
    return this.raw;
  }

  get idKey(): Buffer {
    return this.raw.subarray(32, 64);
  }

  /** Keyed BLAKE3 of a blob's plaintext (spec §6). */
  blobId(plain: Uint8Array): Buffer {
    return keyedBlake3(this.idKey, plain);
  }
}
