// The payload engines (FORMAT.md §6): each turns pushed bytes into output
// bytes, holding at most one chunk plus the AES-GCM operations in flight.
// The WebCrypto engines seal/open chunks with crypto.subtle under the chunk
// key handed out by wasm; the wasm engines run AES-GCM inside wasm. Both
// produce byte-identical output (tested both ways).

import { backend } from './backend.js';
import { PqfileError, ErrorCode, fromWasm } from './errors.js';

/** Receives output bytes, in file order. @typedef {(bytes: Uint8Array) => void} Emit */
/** An imported chunk key. @typedef {{ key: CryptoKey, baseNonce: Uint8Array }} ImportedChunkKey */

/**
 * The format's sizes, from the core through the wasm bindings
 * (`StreamConstant`, `maxChunks()`): read when an engine starts, after init.
 */
export function streamConstants() {
  const c = backend.wasm.StreamConstant;
  return {
    chunkSize: c.ChunkSize,
    tagLen: c.TagLen,
    chunkCtSize: c.ChunkCiphertextSize,
    payloadPrefixLen: c.PayloadPrefixLen,
    maxHeaderLen: c.MaxHeaderLen,
    maxChunks: backend.wasm.maxChunks(), // C4
  };
}
// Default number of chunks sealed or opened concurrently by WebCrypto: enough
// to overlap the calls, small enough to bound memory (64 × 16 KiB in and out).
export const DEFAULT_CONCURRENCY = 64;

/** Whether WebCrypto AES-GCM can be used here (secure context, subtle present). */
export function hasWebCrypto() {
  const c = globalThis.crypto;
  if (!c || !c.subtle) return false;
  return globalThis.isSecureContext !== false;
}

/**
 * Whether to seal/open chunks with WebCrypto: `true` requires it, `false`
 * refuses it, `'auto'` (or unset) uses it where it exists.
 * @param {boolean | 'auto' | undefined} option
 */
export function useWebCrypto(option) {
  if (option === true) {
    if (!hasWebCrypto()) throw new PqfileError(ErrorCode.InvalidState, 'WebCrypto is not available here (crypto.subtle needs a secure context)');
    return true;
  }
  if (option === false) return false;
  return hasWebCrypto();
}

/**
 * Nonce of chunk `counter`: base nonce XOR the counter as a 96-bit big-endian integer.
 * @param {Uint8Array} baseNonce
 * @param {number} counter
 */
export function chunkNonce(baseNonce, counter) {
  const n = baseNonce.slice();
  let c = counter;
  for (let i = 11; i >= 4 && c > 0; i--) {
    n[i] ^= c % 256;
    c = Math.floor(c / 256);
  }
  return n;
}

/**
 * Imports the chunk key as a non-extractable CryptoKey, then frees (wipes) the wasm copy.
 * @param {import('../dist/bundler/pqfile_wasm.js').ChunkKey} chunkKey
 * @returns {Promise<ImportedChunkKey>}
 */
export async function importChunkKey(chunkKey) {
  const raw = chunkKey.key();
  const baseNonce = chunkKey.baseNonce;
  chunkKey.free();
  try {
    const key = await crypto.subtle.importKey('raw', /** @type {BufferSource} */ (raw), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    return { key, baseNonce };
  } finally {
    raw.fill(0);
  }
}

/** @param {unknown} [cause] */
function failed(cause) {
  return new PqfileError(ErrorCode.DecryptionFailed, 'decryption failed', cause ? { cause } : undefined);
}

/** Seals chunks with WebCrypto. `emit` receives output in file order. */
export class WebCryptoSealer {
  /**
   * @param {ImportedChunkKey} chunkKey
   * @param {Emit} emit
   * @param {number} [concurrency]
   */
  constructor({ key, baseNonce }, emit, concurrency = DEFAULT_CONCURRENCY) {
    const { chunkSize, maxChunks } = streamConstants();
    this.key = key;
    this.baseNonce = baseNonce;
    this.emit = emit;
    this.window = Math.max(1, concurrency);
    this.chunkSize = chunkSize;
    this.maxChunks = maxChunks;
    this.buf = new Uint8Array(chunkSize);
    this.bufLen = 0;
    this.counter = 0;
    /** @type {Promise<ArrayBuffer>[]} calls in flight, in file order */
    this.inflight = [];
  }

  /** @param {Uint8Array} plaintext */
  seal(plaintext) {
    if (this.counter >= this.maxChunks) throw new PqfileError(ErrorCode.MessageTooLong, 'the plaintext exceeds the 4 PiB limit of the format');
    const iv = chunkNonce(this.baseNonce, this.counter++);
    // subtle.encrypt copies its input before returning, so buffers can be reused.
    return crypto.subtle.encrypt({ name: 'AES-GCM', iv }, this.key, /** @type {BufferSource} */ (plaintext));
  }

  // Starts sealing one chunk (a view: subtle.encrypt copies it at once) and
  // emits finished chunks, in file order, while more than `window` calls are
  // in flight. The window spans pushes: a push of a few chunks does not wait
  // for them, so the crypto thread always has up to `window` calls queued.
  /** @param {Uint8Array} chunk */
  async #start(chunk) {
    const p = this.seal(chunk);
    p.catch(() => {}); // awaited in order below
    this.inflight.push(p);
    while (this.inflight.length > this.window) this.emit(new Uint8Array(await /** @type {Promise<ArrayBuffer>} */ (this.inflight.shift())));
  }

  async #drain() {
    while (this.inflight.length > 0) this.emit(new Uint8Array(await /** @type {Promise<ArrayBuffer>} */ (this.inflight.shift())));
  }

  /** @param {Uint8Array} data */
  async push(data) {
    const size = this.chunkSize;
    let off = 0;
    if (this.bufLen > 0) {
      const take = Math.min(size - this.bufLen, data.length);
      this.buf.set(data.subarray(0, take), this.bufLen);
      this.bufLen += take;
      off = take;
      if (this.bufLen < size) return;
      // A full chunk is never the last one (C1): seal it now.
      this.bufLen = 0;
      await this.#start(this.buf);
    }
    while (data.length - off >= size) {
      await this.#start(data.subarray(off, off + size));
      off += size;
    }
    this.buf.set(data.subarray(off), 0);
    this.bufLen = data.length - off;
  }

  async finish() {
    await this.#start(this.buf.subarray(0, this.bufLen));
    await this.#drain();
  }
}

/** Opens chunks with WebCrypto; only authenticated plaintext is emitted (C6). */
export class WebCryptoOpener {
  /**
   * @param {ImportedChunkKey} chunkKey
   * @param {Emit} emit
   * @param {number} [concurrency]
   */
  constructor({ key, baseNonce }, emit, concurrency = DEFAULT_CONCURRENCY) {
    const { chunkCtSize, tagLen, maxChunks } = streamConstants();
    this.key = key;
    this.baseNonce = baseNonce;
    this.emit = emit;
    this.window = Math.max(1, concurrency);
    this.chunkCtSize = chunkCtSize;
    this.tagLen = tagLen;
    this.maxChunks = maxChunks;
    this.buf = new Uint8Array(chunkCtSize);
    this.bufLen = 0;
    this.counter = 0;
  }

  /**
   * @param {Uint8Array} ciphertext
   * @returns {Promise<ArrayBuffer>}
   */
  open(ciphertext) {
    if (this.counter >= this.maxChunks) return Promise.reject(failed());
    const iv = chunkNonce(this.baseNonce, this.counter++);
    return crypto.subtle.decrypt({ name: 'AES-GCM', iv }, this.key, /** @type {BufferSource} */ (ciphertext)).catch((e) => {
      throw failed(e);
    });
  }

  // Opens `chunks` in windows of concurrent calls; a window is released only
  // when all its chunks authenticate, and in order.
  /** @param {Uint8Array[]} chunks */
  async #openAll(chunks) {
    for (let i = 0; i < chunks.length; i += this.window) {
      const pending = chunks.slice(i, i + this.window).map((c) => this.open(c));
      for (const p of pending) p.catch(() => {}); // all awaited just below
      for (const p of pending) this.emit(new Uint8Array(await p));
    }
  }

  /** @param {Uint8Array} data */
  async push(data) {
    const size = this.chunkCtSize;
    const chunks = [];
    let off = 0;
    if (this.bufLen > 0) {
      const take = Math.min(size - this.bufLen, data.length);
      this.buf.set(data.subarray(0, take), this.bufLen);
      this.bufLen += take;
      off = take;
      if (this.bufLen < size) return;
      // A full-length chunk is never final (C1): open it as soon as it is complete.
      chunks.push(this.buf.slice());
      this.bufLen = 0;
    }
    while (data.length - off >= size) {
      chunks.push(data.subarray(off, off + size));
      off += size;
    }
    this.buf.set(data.subarray(off), 0);
    this.bufLen = data.length - off;
    await this.#openAll(chunks);
  }

  async finish() {
    // The final chunk is the short remainder: at least a tag (C3).
    if (this.bufLen < this.tagLen) throw failed();
    await this.#openAll([this.buf.subarray(0, this.bufLen)]);
  }
}

/**
 * Seals or opens a payload in wasm (the fallback where crypto.subtle is
 * missing): the bindings' Encryptor and Decryptor share push/finish/free.
 */
export class WasmEngine {
  /**
   * @param {import('../dist/bundler/pqfile_wasm.js').Encryptor | import('../dist/bundler/pqfile_wasm.js').Decryptor} engine
   * @param {Emit} emit
   */
  constructor(engine, emit) {
    this.engine = engine;
    this.emit = emit;
  }

  /** @param {Uint8Array} data */
  async push(data) {
    const out = call(() => this.engine.push(data));
    if (out.length) this.emit(out);
  }

  async finish() {
    try {
      const out = call(() => this.engine.finish());
      if (out.length) this.emit(out);
    } finally {
      this.engine.free();
    }
  }
}

/**
 * Runs a wasm call, rethrowing its errors as PqfileError.
 * @template T
 * @param {() => T} f
 * @returns {T}
 */
export function call(f) {
  try {
    return f();
  } catch (e) {
    throw fromWasm(e);
  }
}
