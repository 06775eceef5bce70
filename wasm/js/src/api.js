// The idiomatic API over the wasm bindings, in the style of typage:
// Encrypter / Decrypter take a Uint8Array or a ReadableStream<Uint8Array> and
// return the same; encryptStream() / decryptStream() are TransformStreams for
// `file.stream().pipeThrough(...)`.

import { backend, init } from './backend.js';
import { PqfileError, ErrorCode } from './errors.js';
import { encapsulate } from './kem.js';
import {
  WasmOpener,
  WasmSealer,
  WebCryptoOpener,
  WebCryptoSealer,
  call,
  hasWebCrypto,
  importChunkKey,
  streamConstants,
} from './stream.js';

export { init };
export { encapsulate, hasWebCryptoKem } from './kem.js';
export { hasWebCrypto, chunkNonce } from './stream.js';

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
    const engine = new DecryptionStart(this, emit);
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

/**
 * Gets the file key from the key server. The protocol is the core's
 * (`KeyServerUnwrap`: requests, opening the answer, FORMAT.md §7) and so is
 * the retry policy (`shouldTryNextStanza`, §7.1); only the HTTP is here.
 */
async function unwrapWithKeyServer(wasm, client, header) {
  const unwrap = call(() => new wasm.KeyServerUnwrap(header));
  let refusal;
  try {
    for (let request = unwrap.nextRequest(); request; request = unwrap.nextRequest()) {
      try {
        let transport;
        try {
          transport = await client.unwrap(unwrap.documentId, request.stanza, request.ephemeralPublicKey);
        } catch (e) {
          const status = typeof e?.status === 'number' ? e.status : 0;
          if (!wasm.shouldTryNextStanza(status, String(e?.code ?? ''))) throw e;
          refusal = e;
          continue;
        }
        return call(() => unwrap.openResponse(request, transport));
      } finally {
        request.free();
      }
    }
  } finally {
    unwrap.free();
  }
  // KeyServerUnwrap made sure there was a stanza to ask about.
  throw refusal;
}

/**
 * Starts a decryption: the header through the core's HeaderReader, the file
 * key, the payload prefix; then hands over to a payload engine.
 */
class DecryptionStart {
  constructor(decrypter, emit) {
    const { payloadPrefixLen, maxHeaderLen } = streamConstants();
    this.decrypter = decrypter;
    this.emit = emit;
    this.payloadPrefixLen = payloadPrefixLen;
    this.maxHeaderLen = maxHeaderLen;
    this.reader = new backend.wasm.HeaderReader();
    /** Payload bytes held until the payload prefix is complete. */
    this.head = new Uint8Array(0);
    this.header = null;
    this.fileKey = null;
    this.engine = null;
  }

  async push(data) {
    if (this.engine) return this.engine.push(data);
    if (!this.header) {
      // At most a header's worth crosses into wasm; the reader keeps only
      // the header's bytes and says how many of `data` they were.
      const used = call(() => this.reader.push(data.subarray(0, this.maxHeaderLen)));
      if (!this.reader.complete) return;
      this.header = this.reader.takeHeader();
      this.reader.free();
      this.reader = null;
      this.decrypter.documentId = this.header.documentId;
      this.fileKey = await this.decrypter.unwrapFileKey(this.header);
      data = data.subarray(used);
    }
    const rest = this.head.length ? appendBytes(this.head, data) : data;
    if (rest.length < this.payloadPrefixLen) {
      this.head = rest.slice();
      return;
    }
    this.head = null;
    await this.start(rest);
  }

  async start(rest) {
    const wasm = backend.wasm;
    try {
      if (useWebCrypto(this.decrypter.options.webCrypto)) {
        const prefix = rest.subarray(0, this.payloadPrefixLen);
        const key = await importChunkKey(call(() => wasm.ChunkKey.forPayload(this.header, this.fileKey, prefix)));
        this.engine = new WebCryptoOpener(key, this.emit, this.decrypter.options.concurrency);
        await this.engine.push(rest.subarray(this.payloadPrefixLen));
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
      // Throws truncated_header, with how many more bytes the header needed.
      try {
        call(() => this.reader.finish());
      } finally {
        this.reader.free();
      }
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
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
