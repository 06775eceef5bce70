// The idiomatic API over the wasm bindings, in the style of typage:
// Encrypter / Decrypter take a Uint8Array or a ReadableStream<Uint8Array> and
// return the same; encryptStream() / decryptStream() are TransformStreams for
// `file.stream().pipeThrough(...)`.

import { backend, init } from './backend.js';
import { PqfileError, ErrorCode, fromWasm } from './errors.js';
import { encapsulate } from './kem.js';
import {
  PAYLOAD_PREFIX_LEN,
  WasmOpener,
  WasmSealer,
  WebCryptoOpener,
  WebCryptoSealer,
  call,
  hasWebCrypto,
  importChunkKey,
} from './stream.js';

export { init };
export { encapsulate, hasWebCryptoKem } from './kem.js';
export { hasWebCrypto, chunkNonce, CHUNK_SIZE, CHUNK_CT_SIZE } from './stream.js';

function useWebCrypto(option) {
  if (option === true) {
    if (!hasWebCrypto()) throw new PqfileError(ErrorCode.InvalidState, 'WebCrypto is not available here (crypto.subtle needs a secure context)');
    return true;
  }
  if (option === false) return false;
  return hasWebCrypto();
}

function concat(parts, total) {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Runs a push/finish engine over a Uint8Array or a ReadableStream. */
async function run(input, makeEngine) {
  if (input instanceof Uint8Array) {
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

function transform(makeEngine) {
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

function progress(engine, onProgress) {
  if (!onProgress) return engine;
  let done = 0;
  return {
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
    this.options = options;
    this.recipients = [];
    this.fixedDocumentId = undefined;
    this.keyServer = undefined;
    /** The document id of the file being (or last) encrypted. */
    this.documentId = undefined;
  }

  /** Adds a recipient: a key-server key id and its 1184-byte ML-KEM-768 public key. */
  addRecipient(keyId, publicKey) {
    this.recipients.push({ keyId, publicKey });
    return this;
  }

  /** Uses this document id (32 hex digits) instead of a random one. */
  setDocumentId(documentId) {
    this.fixedDocumentId = documentId;
    return this;
  }

  /** Creates a key-server document for each file and encrypts to its key. */
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
      engine = new WasmSealer(encryptor, emit);
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
    this.options = options;
    this.identities = [];
    this.keyServer = undefined;
    /** The document id of the file being (or last) decrypted. */
    this.documentId = undefined;
  }

  /** Adds a local identity: key id and the 64-byte ML-KEM-768 seed. */
  addIdentity(keyId, seed) {
    this.identities.push({ keyId, seed });
    return this;
  }

  /** Asks the key server to unwrap the file key (FORMAT.md §7). */
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

  async #engine(emit) {
    await init();
    const engine = new HeaderReader(this, emit);
    return progress(engine, this.options.onProgress);
  }

  /** Finds the file key for `header` (MAC verified). */
  async unwrapFileKey(header) {
    const wasm = backend.wasm;
    let lastError = new PqfileError(ErrorCode.NoMatchingStanza, 'none of the available keys is a recipient of this file');
    for (const { keyId, seed } of this.identities) {
      const sk = call(() => wasm.MlKem768SecretKey.fromSeed(seed));
      try {
        return call(() => header.unwrapFileKey(keyId, sk));
      } catch (e) {
        if (e.code !== ErrorCode.NoMatchingStanza && e.code !== ErrorCode.UnsupportedKem) throw e;
        lastError = e;
      } finally {
        sk.free();
      }
    }
    if (this.keyServer) return unwrapWithKeyServer(wasm, this.keyServer, header);
    throw lastError;
  }
}

async function unwrapWithKeyServer(wasm, client, header) {
  const documentId = header.documentId;
  const stanzas = header.stanzas;
  const supported = stanzas.filter((s) => s.isSupported);
  let lastError = new PqfileError(ErrorCode.UnsupportedKem, 'the file\'s stanzas all use KEMs this version does not support');
  try {
    for (const stanza of supported) {
      const ephemeral = wasm.MlKem768SecretKey.generate();
      try {
        const pk = ephemeral.publicKey();
        const ephemeralPublicKey = pk.toBytes();
        pk.free();
        let transport;
        try {
          transport = await client.unwrap(documentId, stanza.toBytes(), ephemeralPublicKey);
        } catch (e) {
          // Authentication and server errors are final; a key the server
          // does not hold lets us try the next stanza.
          if (e.status === 401 || e.status === 403 || !(e.status >= 400 && e.status < 500)) throw e;
          lastError = e;
          continue;
        }
        const fileKey = call(() => wasm.openTransportStanza(transport, documentId, ephemeral));
        if (!header.verifyMac(fileKey)) {
          fileKey.free();
          throw new PqfileError(ErrorCode.DecryptionFailed, 'decryption failed');
        }
        return fileKey;
      } finally {
        ephemeral.free();
      }
    }
  } finally {
    for (const s of stanzas) s.free();
  }
  throw lastError;
}

/** Reads the header and the payload prefix, then hands over to a payload engine. */
class HeaderReader {
  constructor(decrypter, emit) {
    this.decrypter = decrypter;
    this.emit = emit;
    this.head = new Uint8Array(0);
    this.needed = 1;
    this.header = null;
    this.engine = null;
  }

  async push(data) {
    if (this.engine) return this.engine.push(data);
    this.head = appendBytes(this.head, data);
    if (!this.header) {
      if (this.head.length < this.needed) return;
      try {
        this.header = backend.wasm.Header.parse(this.head);
      } catch (e) {
        const err = fromWasm(e);
        if (err.code === ErrorCode.TruncatedHeader) {
          this.needed = this.head.length + err.needed;
          this.lastError = err;
          return;
        }
        throw err;
      }
      this.decrypter.documentId = this.header.documentId;
      this.head = this.head.slice(this.header.length);
      this.fileKey = await this.decrypter.unwrapFileKey(this.header);
    }
    if (this.head.length < PAYLOAD_PREFIX_LEN) return;
    await this.start();
  }

  async start() {
    const wasm = backend.wasm;
    const rest = this.head;
    this.head = null;
    try {
      if (useWebCrypto(this.decrypter.options.webCrypto)) {
        const prefix = rest.subarray(0, PAYLOAD_PREFIX_LEN);
        const key = await importChunkKey(call(() => wasm.ChunkKey.forPayload(this.header, this.fileKey, prefix)));
        this.engine = new WebCryptoOpener(key, this.emit, this.decrypter.options.concurrency);
        await this.engine.push(rest.subarray(PAYLOAD_PREFIX_LEN));
      } else {
        this.engine = new WasmOpener(call(() => new wasm.Decryptor(this.header, this.fileKey)), this.emit);
        await this.engine.push(rest);
      }
    } finally {
      this.fileKey.free();
      this.header.free();
      this.fileKey = null;
    }
  }

  async finish() {
    if (!this.header) {
      throw this.lastError ?? new PqfileError(ErrorCode.TruncatedHeader, 'the header is truncated');
    }
    if (!this.engine) {
      this.fileKey?.free();
      this.header.free();
      // A header with no (or a partial) payload prefix: truncated (FORMAT.md §9).
      throw new PqfileError(ErrorCode.DecryptionFailed, 'decryption failed');
    }
    await this.engine.finish();
  }
}

function appendBytes(a, b) {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
