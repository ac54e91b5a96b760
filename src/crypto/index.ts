// The crypto layer's public surface: XAES-256-GCM sealing, BLAKE3 hashing, scrypt key derivation, randomness.
// Must never export test-only helpers (XAES intermediates) or anything that exposes key material.

export {
  XaesKey,
  xaesEncrypt,
  xaesDecrypt,
  seal,
  open,
  SEAL_OVERHEAD,
  XAES_KEY_LENGTH,
  XAES_NONCE_LENGTH,
  XAES_TAG_LENGTH,
} from './xaes.js';
export {
  blake3,
  keyedBlake3,
  Blake3Key,
  createBlake3,
  createKeyedBlake3,
  BLAKE3_KEY_LENGTH,
  BLAKE3_OUT_LENGTH,
  type Blake3Stream,
} from './blake3.js';
export {
  deriveKey,
  calibrateScrypt,
  validateScryptParams,
  scryptMemory,
  CHEAP_TEST_SCRYPT,
  DERIVED_KEY_LENGTH,
  MIN_SALT_LENGTH,
  type ScryptParams,
} from './kdf.js';
export { randomBytes } from './random.js';
