// Decrypting a file's start: the header (read by the core's HeaderReader),
// the file key (local identities, or the key server through the core's
// KeyServerUnwrap and retry policy, FORMAT.md §7, §7.1: only the HTTP is
// here), the payload prefix; then a payload engine of stream.js takes over.

import { backend } from './backend.js';
import { PqfileError, ErrorCode } from './errors.js';
import { WasmEngine, WebCryptoOpener, call, importChunkKey, streamConstants, useWebCrypto } from './stream.js';

/** @typedef {import('../dist/bundler/pqfile_wasm.js').Header} WasmHeader */
/** @typedef {import('../dist/bundler/pqfile_wasm.js').FileKey} WasmFileKey */
/** @typedef {import('./stream.js').Emit} Emit */
/** @typedef {import('./api.js').Engine} Engine */
/** @typedef {import('./api.js').KeyServer} KeyServer */
/** @typedef {import('./keyserver.js').KeyState} KeyState */
/** @typedef {import('./keyserver.js').UnwrapAnswer} UnwrapAnswer */
/**
 * What DecryptionStart needs of its Decrypter.
 * @typedef {{
 *   options: import('./api.js').Options,
 *   documentId: string | undefined,
 *   unwrapFileKey(header: WasmHeader): Promise<WasmFileKey>,
 * }} DecrypterLike
 */

/**
 * Gets the file key from the key server, and the state of the key that
 * opened the stanza when the client can tell it (`unwrapWithKeyState`; null
 * otherwise). The protocol is the core's (`KeyServerUnwrap`: requests,
 * opening the answer, FORMAT.md §7) and so is the retry policy
 * (`shouldTryNextStanza`, §7.1); only the HTTP is here.
 * @param {typeof import('../dist/bundler/pqfile_wasm.js')} wasm
 * @param {KeyServer} client
 * @param {WasmHeader} header
 * @returns {Promise<{ fileKey: WasmFileKey, keyState: KeyState | null }>}
 */
export async function unwrapWithKeyServer(wasm, client, header) {
  const unwrap = call(() => new wasm.KeyServerUnwrap(header));
  /** @type {unknown} */
  let refusal;
  try {
    for (let request = unwrap.nextRequest(); request; request = unwrap.nextRequest()) {
      try {
        /** @type {UnwrapAnswer} */
        let answer;
        try {
          answer = client.unwrapWithKeyState
            ? await client.unwrapWithKeyState(unwrap.documentId, request.stanza, request.ephemeralPublicKey)
            : { transportStanza: await client.unwrap(unwrap.documentId, request.stanza, request.ephemeralPublicKey), keyState: null };
        } catch (e) {
          const { status, code } = /** @type {{ status?: unknown, code?: unknown }} */ (e ?? {});
          if (!wasm.shouldTryNextStanza(typeof status === 'number' ? status : 0, String(code ?? ''))) throw e;
          refusal = e;
          continue;
        }
        const fileKey = call(() => unwrap.openResponse(request, answer.transportStanza));
        return { fileKey, keyState: answer.keyState };
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
export class DecryptionStart {
  /**
   * @param {DecrypterLike} decrypter
   * @param {Emit} emit
   */
  constructor(decrypter, emit) {
    const { payloadPrefixLen, maxHeaderLen } = streamConstants();
    this.decrypter = decrypter;
    this.emit = emit;
    this.payloadPrefixLen = payloadPrefixLen;
    this.maxHeaderLen = maxHeaderLen;
    /** @type {import('../dist/bundler/pqfile_wasm.js').HeaderReader | null} */
    this.reader = new backend.wasm.HeaderReader();
    /** Payload bytes held until the payload prefix is complete. */
    this.head = new Uint8Array(0);
    /** @type {WasmHeader | null} */
    this.header = null;
    /** @type {WasmFileKey | null} */
    this.fileKey = null;
    /** @type {Engine | null} */
    this.engine = null;
  }

  /** @param {Uint8Array} data */
  async push(data) {
    if (this.engine) return this.engine.push(data);
    const reader = this.reader;
    if (reader) {
      // At most a header's worth crosses into wasm; the reader keeps only
      // the header's bytes and says how many of `data` they were.
      const used = call(() => reader.push(data.subarray(0, this.maxHeaderLen)));
      if (!reader.complete) return;
      const header = /** @type {WasmHeader} */ (reader.takeHeader());
      reader.free();
      this.reader = null;
      this.header = header;
      this.decrypter.documentId = header.documentId;
      this.fileKey = await this.decrypter.unwrapFileKey(header);
      data = data.subarray(used);
    }
    const rest = this.head.length ? appendBytes(this.head, data) : data;
    if (rest.length < this.payloadPrefixLen) {
      this.head = rest.slice();
      return;
    }
    this.head = new Uint8Array(0);
    await this.#start(rest);
  }

  /** @param {Uint8Array} rest the payload from its start */
  async #start(rest) {
    const wasm = backend.wasm;
    const header = /** @type {WasmHeader} */ (this.header);
    const fileKey = /** @type {WasmFileKey} */ (this.fileKey);
    const options = this.decrypter.options;
    try {
      if (useWebCrypto(options.webCrypto)) {
        const prefix = rest.subarray(0, this.payloadPrefixLen);
        const key = await importChunkKey(call(() => wasm.ChunkKey.forPayload(header, fileKey, prefix)));
        this.engine = new WebCryptoOpener(key, this.emit, options.concurrency);
        await this.engine.push(rest.subarray(this.payloadPrefixLen));
      } else {
        this.engine = new WasmEngine(call(() => new wasm.Decryptor(header, fileKey)), this.emit);
        await this.engine.push(rest);
      }
    } finally {
      fileKey.free();
      header.free();
      this.fileKey = null;
      this.header = null;
    }
  }

  async finish() {
    const reader = this.reader;
    if (reader) {
      // Throws truncated_header, with how many more bytes the header needed.
      try {
        call(() => reader.finish());
      } finally {
        reader.free();
        this.reader = null;
      }
    }
    if (!this.engine) {
      this.fileKey?.free();
      this.header?.free();
      // A header with no (or a partial) payload prefix: truncated (FORMAT.md §9).
      throw new PqfileError(ErrorCode.DecryptionFailed, 'decryption failed');
    }
    await this.engine.finish();
  }
}

/**
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
function appendBytes(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
