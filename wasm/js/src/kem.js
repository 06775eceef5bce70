// ML-KEM-768 encapsulation (FIPS 203) for a file's recipients: WebCrypto's
// `encapsulateBits` where the platform has it (Chromium 156 does, Node 20
// does not), the wasm ML-KEM otherwise. Both give a wasm `Encapsulation`
// that seals the file key inside wasm (`Recipients.addEncapsulated`): the
// shared secret passes through JS only as the ArrayBuffer WebCrypto returns,
// which `Encapsulation.fromParts` copies into wasm memory and zeroes.

import { init } from './backend.js';
import { PqfileError, ErrorCode } from './errors.js';
import { call } from './stream.js';

/**
 * WebCrypto's ML-KEM (WICG "Modern Algorithms in WebCrypto"), which
 * TypeScript's DOM types do not describe yet.
 * @typedef {{
 *   generateKey(alg: { name: string }, extractable: boolean, usages: string[]): Promise<unknown>,
 *   importKey(format: 'raw-public', key: Uint8Array, alg: { name: string }, extractable: boolean, usages: string[]): Promise<CryptoKey>,
 *   encapsulateBits?: (alg: { name: string }, key: CryptoKey) => Promise<{ ciphertext: ArrayBuffer, sharedKey: ArrayBuffer }>,
 * }} KemSubtle
 */

/** @typedef {typeof import('../dist/bundler/pqfile_wasm.js')} Wasm */

const ALG = { name: 'ML-KEM-768' };
/** @type {Promise<boolean> | null} */
let probe = null;

/** `crypto.subtle` with its ML-KEM methods, where there is one. */
function kemSubtle() {
  return /** @type {KemSubtle | undefined} */ (/** @type {unknown} */ (globalThis.crypto?.subtle));
}

/**
 * Whether WebCrypto ML-KEM-768 works here (checked once, by generating a
 * throwaway key pair).
 * @returns {Promise<boolean>}
 */
export function hasWebCryptoKem() {
  const subtle = kemSubtle();
  if (!subtle || typeof subtle.encapsulateBits !== 'function' || globalThis.isSecureContext === false) {
    return Promise.resolve(false);
  }
  probe ??= subtle.generateKey(ALG, false, ['encapsulateBits', 'decapsulateBits']).then(
    () => true,
    () => false,
  );
  return probe;
}

/**
 * Encapsulates a fresh shared secret to a 1184-byte ML-KEM-768 public key.
 * `webCrypto`: `'auto'` (default) uses WebCrypto when it has ML-KEM-768,
 * `true` requires it, `false` uses wasm. A key either implementation refuses
 * throws `invalid_public_key` (from the wasm check, so the code is the same
 * on every path).
 * @param {Uint8Array} publicKey
 * @param {{ webCrypto?: boolean | 'auto' }} [options]
 */
export async function encapsulate(publicKey, { webCrypto = 'auto' } = {}) {
  const wasm = await init();
  if (webCrypto !== false) {
    if (await hasWebCryptoKem()) {
      const enc = await encapsulateWithWebCrypto(wasm, publicKey);
      if (enc) return enc;
    } else if (webCrypto === true) {
      throw new PqfileError(ErrorCode.InvalidState, 'WebCrypto ML-KEM-768 is not available here');
    }
  }
  const pk = call(() => wasm.MlKem768PublicKey.fromBytes(publicKey));
  try {
    return pk.encapsulate();
  } finally {
    pk.free();
  }
}

/**
 * @param {Wasm} wasm
 * @param {Uint8Array} publicKey
 */
async function encapsulateWithWebCrypto(wasm, publicKey) {
  const subtle = /** @type {Required<KemSubtle>} */ (kemSubtle());
  let key;
  try {
    key = await subtle.importKey('raw-public', publicKey, ALG, false, ['encapsulateBits']);
  } catch {
    return null; // let the wasm parser report what is wrong with the key
  }
  const { ciphertext, sharedKey } = await subtle.encapsulateBits(ALG, key);
  // fromParts zeroes the array it is given: the only JS copy of the secret.
  return call(() => wasm.Encapsulation.fromParts(new Uint8Array(ciphertext), new Uint8Array(sharedKey)));
}
