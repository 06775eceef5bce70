// The idiomatic API over the wasm bindings, in the style of typage:
// Encrypter / Decrypter take a Uint8Array or a ReadableStream<Uint8Array> and
// return the same; encryptStream() / decryptStream() are TransformStreams for
// `file.stream().pipeThrough(...)`.

import { backend, init } from './backend.js';
import { PqfileError, ErrorCode } from './errors.js';
import { encapsulate } from './kem.js';
import { DecryptionStart, unwrapWithKeyServer } from './decryption.js';
import { WasmEngine, WebCryptoSealer, call, importChunkKey, useWebCrypto } from './stream.js';

/** @typedef {import('../dist/bundler/pqfile_wasm.js').Header} WasmHeader */
/** @typedef {import('../dist/bundler/pqfile_wasm.js').FileKey} WasmFileKey */
/** @typedef {import('./stream.js').Emit} Emit */
/** A push/finish state machine over bytes. @typedef {{ push(data: Uint8Array): Promise<void>, finish(): Promise<void> }} Engine */
/** @typedef {(emit: Emit) => Promise<Engine>} MakeEngine */
/** @typedef {{ webCrypto?: boolean | 'auto', concurrency?: number, onProgress?: (bytes: number) => void }} Options */
/**
 * What Encrypter/Decrypter need of a key server (KeyServerClient, or a
 * stand-in); with `unwrapWithKeyState` a Decrypter also learns the state of
 * the key that opened the file (`keyState`).
 * @typedef {{
 *   createDocument(): Promise<{ documentId: string, keyId: number, publicKey: Uint8Array }>,
 *   unwrap(documentId: string, stanza: Uint8Array, ephemeralPublicKey: Uint8Array): Promise<Uint8Array>,
 *   unwrapWithKeyState?(documentId: string, stanza: Uint8Array, ephemeralPublicKey: Uint8Array): Promise<import('./keyserver.js').UnwrapAnswer>,
 * }} KeyServer
 */

export { init };
export { encapsulate, hasWebCryptoKem } from './kem.js';
export { hasWebCrypto, chunkNonce } from './stream.js';

/**
 * `parts` joined into one array of `total` bytes.
 * @param {Uint8Array[]} parts
 * @param {number} total
 */
export function concat(parts, total) {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Runs a push/finish engine over a Uint8Array or a ReadableStream.
 * @param {Uint8Array | ReadableStream<Uint8Array>} input
 * @param {MakeEngine} makeEngine
 * @returns {Promise<any>}
 */
async function run(input, makeEngine) {
  if (input instanceof Uint8Array) {
    /** @type {Uint8Array[]} */
    const parts = [];
    let total = 0;
    const engine = await makeEngine((b) => {
      parts.push(b);
      total += b.length;
    });
    await engine.push(input);
    await engine.finish();
    return concat(parts, total);
  }
  if (input && typeof input.pipeThrough === 'function') {
    return input.pipeThrough(transform(makeEngine));
  }
  throw new TypeError('expected a Uint8Array or a ReadableStream<Uint8Array>');
}

/**
 * @param {MakeEngine} makeEngine
 * @returns {TransformStream<Uint8Array, Uint8Array>}
 */
function transform(makeEngine) {
  /** @type {Engine} */
  let engine;
  return new TransformStream(
    {
      async start(controller) {
        engine = await makeEngine((b) => controller.enqueue(b));
      },
      async transform(chunk, _controller) {
        if (!(chunk instanceof Uint8Array)) throw new TypeError('stream chunks must be Uint8Array');
        await engine.push(chunk);
      },
      async flush() {
        await engine.finish();
      },
    },
    // Let a few input blocks queue while chunks are sealed.
    { highWaterMark: 4 },
    { highWaterMark: 4 },
  );
}

/**
 * @param {Engine} engine
 * @param {((bytes: number) => void) | undefined} onProgress
 * @returns {Engine}
 */
function progress(engine, onProgress) {
  if (!onProgress) return engine;
  let done = 0;
  return {
    /** @param {Uint8Array} data */
    async push(data) {
      await engine.push(data);
      done += data.length;
      onProgress(done);
    },
    finish: () => engine.finish(),
  };
}

/**
 * Encrypts to key-server keys. Add recipients (`addRecipient`) or a key
 * server (`useKeyServer`: each file gets a new document and its key).
 */
export class Encrypter {
  /**
   * @param {{ webCrypto?: boolean | 'auto', concurrency?: number, onProgress?: (plaintextBytes: number) => void }} [options]
   */
  constructor(options = {}) {
    /** @type {Options} */
    this.options = options;
    /** @type {{ keyId: number, publicKey: Uint8Array }[]} */
    this.recipients = [];
    /** @type {string | undefined} */
    this.fixedDocumentId = undefined;
    /** @type {KeyServer | undefined} */
    this.keyServer = undefined;
    /** The document id of the file being (or last) encrypted. @type {string | undefined} */
    this.documentId = undefined;
  }

  /**
   * Adds a recipient: a key-server key id and its 1184-byte ML-KEM-768 public key.
   * @param {number} keyId
   * @param {Uint8Array} publicKey
   */
  addRecipient(keyId, publicKey) {
    this.recipients.push({ keyId, publicKey });
    return this;
  }

  /**
   * Uses this document id (32 hex digits) instead of a random one.
   * @param {string} documentId
   */
  setDocumentId(documentId) {
    this.fixedDocumentId = documentId;
    return this;
  }

  /**
   * Creates a key-server document for each file and encrypts to its key.
   * @param {KeyServer} client
   */
  useKeyServer(client) {
    this.keyServer = client;
    return this;
  }

  /**
   * Encrypts a whole Uint8Array, or a ReadableStream into a ReadableStream.
   * @template {Uint8Array | ReadableStream<Uint8Array>} T
   * @param {T} input
   * @returns {Promise<T>}
   */
  async encrypt(input) {
    await init();
    return run(input, (emit) => this.#engine(emit));
  }

  /** A TransformStream from plaintext to a PQF file. */
  encryptStream() {
    return transform((emit) => this.#engine(emit));
  }

  /**
   * @param {Emit} emit
   * @returns {Promise<Engine>}
   */
  async #engine(emit) {
    const wasm = await init();
    const recipients = [...this.recipients];
    let documentId = this.fixedDocumentId;
    if (this.keyServer) {
      const doc = await this.keyServer.createDocument();
      documentId = doc.documentId;
      recipients.push({ keyId: doc.keyId, publicKey: doc.publicKey });
    }
    // ML-KEM with WebCrypto where it exists (unless `webCrypto: false`);
    // the stanzas are sealed in wasm either way.
    /** @type {{ webCrypto: false | 'auto' }} */
    const kem = { webCrypto: this.options.webCrypto === false ? false : 'auto' };
    const list = new wasm.Recipients();
    let encryptor;
    try {
      for (const r of recipients) list.addEncapsulated(r.keyId, await encapsulate(r.publicKey, kem));
      encryptor = call(() => new wasm.Encryptor(list, documentId));
    } finally {
      list.free();
    }
    this.documentId = encryptor.documentId;
    let engine;
    if (useWebCrypto(this.options.webCrypto)) {
      emit(encryptor.header);
      emit(encryptor.payloadPrefix);
      const key = await importChunkKey(call(() => encryptor.chunkKey()));
      encryptor.free();
      engine = new WebCryptoSealer(key, emit, this.options.concurrency);
    } else {
      engine = new WasmEngine(encryptor, emit);
    }
    return progress(engine, this.options.onProgress);
  }
}

/**
 * Decrypts PQF files with local identities (`addIdentity`) or through a key
 * server (`useKeyServer`, FORMAT.md §7).
 */
export class Decrypter {
  /**
   * @param {{ webCrypto?: boolean | 'auto', concurrency?: number, onProgress?: (ciphertextBytes: number) => void }} [options]
   */
  constructor(options = {}) {
    /** @type {Options} */
    this.options = options;
    /** @type {{ keyId: number, seed: Uint8Array }[]} */
    this.identities = [];
    /** @type {KeyServer | undefined} */
    this.keyServer = undefined;
    /** The document id of the file being (or last) decrypted. @type {string | undefined} */
    this.documentId = undefined;
    /**
     * The state of the key-server key that opened the file being (or last)
     * decrypted, known before the first plaintext byte; undefined when a
     * local identity opened it or the key server did not say.
     * @type {import('./keyserver.js').KeyState | undefined}
     */
    this.keyState = undefined;
  }

  /**
   * Adds a local identity: key id and the 64-byte ML-KEM-768 seed.
   * @param {number} keyId
   * @param {Uint8Array} seed
   */
  addIdentity(keyId, seed) {
    this.identities.push({ keyId, seed });
    return this;
  }

  /**
   * Asks the key server to unwrap the file key (FORMAT.md §7).
   * @param {KeyServer} client
   */
  useKeyServer(client) {
    this.keyServer = client;
    return this;
  }

  /**
   * Decrypts a whole Uint8Array, or a ReadableStream into a ReadableStream
   * (which errors if the file turns out to be truncated or tampered with:
   * only a stream that closes without error is complete, C6).
   * @template {Uint8Array | ReadableStream<Uint8Array>} T
   * @param {T} input
   * @returns {Promise<T>}
   */
  async decrypt(input) {
    await init();
    return run(input, (emit) => this.#engine(emit));
  }

  /** A TransformStream from a PQF file to its plaintext. */
  decryptStream() {
    return transform((emit) => this.#engine(emit));
  }

  /**
   * @param {Emit} emit
   * @returns {Promise<Engine>}
   */
  async #engine(emit) {
    await init();
    const engine = new DecryptionStart(this, emit);
    return progress(engine, this.options.onProgress);
  }

  /**
   * Finds the file key for `header` (MAC verified).
   * @param {WasmHeader} header
   * @returns {Promise<WasmFileKey>}
   */
  async unwrapFileKey(header) {
    const wasm = backend.wasm;
    this.keyState = undefined;
    /** @type {unknown} */
    let lastError = new PqfileError(ErrorCode.NoMatchingStanza, 'none of the available keys is a recipient of this file');
    for (const { keyId, seed } of this.identities) {
      const sk = call(() => wasm.MlKem768SecretKey.fromSeed(seed));
      try {
        return call(() => header.unwrapFileKey(keyId, sk));
      } catch (e) {
        const code = /** @type {{ code?: unknown }} */ (e).code;
        if (code !== ErrorCode.NoMatchingStanza && code !== ErrorCode.UnsupportedKem) throw e;
        lastError = e;
      } finally {
        sk.free();
      }
    }
    if (this.keyServer) {
      const { fileKey, keyState } = await unwrapWithKeyServer(wasm, this.keyServer, header);
      this.keyState = keyState ?? undefined;
      return fileKey;
    }
    throw lastError;
  }
}
