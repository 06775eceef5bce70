// Moving a .pqf file to a current key (FORMAT.md §8): the key server
// rewraps its header (KeyServerClient.rewrap: one stanza replaced, MAC
// recomputed) and the new file is the new header followed by the old file's
// bytes after the old header, untouched. Only the header is read and sent;
// the rest is passed through (a Blob is sliced, a stream is piped chunk by
// chunk), so memory stays bounded whatever the file's size. The old file
// keeps decrypting until its key expires: a rewrap strands no other copy.

import { concat } from './api.js';
import { init } from './backend.js';
import { ClientErrorCode, KeyServerError } from './errors.js';
import { call, streamConstants } from './stream.js';

/** @typedef {import('./keyserver.js').RewrapAnswer} RewrapAnswer */
/** What rewrapFile needs of a key server (KeyServerClient, or a stand-in). @typedef {{ rewrap(documentId: string, header: Uint8Array): Promise<RewrapAnswer> }} RewrapService */
/**
 * A rewrapped file: `file` (of the input's kind; a Blob for a Blob or File),
 * its document, the key it now depends on and the one it replaced, and its
 * new header.
 * @template T
 * @typedef {{ file: T, documentId: string, keyId: number, replacedKeyId: number, header: Uint8Array }} RewrappedFile
 */

/**
 * @param {unknown} value
 * @returns {value is Blob}
 */
const isBlob = (value) => typeof Blob === 'function' && value instanceof Blob;

/**
 * A stream of `bytes` as one chunk (not a copy).
 * @param {Uint8Array} bytes
 * @returns {ReadableStream<Uint8Array>}
 */
function streamOf(bytes) {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/**
 * Reads the header at the start of `reader` through the core's HeaderReader.
 * Throws the header's error (`bad_magic`, `truncated_header`, ...).
 * @param {ReadableStreamDefaultReader<Uint8Array>} reader
 * @returns {Promise<{ bytes: Uint8Array, documentId: string, rest: Uint8Array }>}
 *   the header's bytes as read, its document id, and the bytes read past it
 */
async function readHeader(reader) {
  const wasm = await init();
  const { maxHeaderLen } = streamConstants();
  const headerReader = new wasm.HeaderReader();
  /** @type {Uint8Array[]} */
  const parts = [];
  let total = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        call(() => headerReader.finish()); // throws truncated_header
        throw new Error('unreachable: HeaderReader.finish() accepted an incomplete header');
      }
      if (!(value instanceof Uint8Array)) throw new TypeError('stream chunks must be Uint8Array');
      let off = 0;
      while (off < value.length && !headerReader.complete) {
        // At most a header's worth crosses into wasm at a time.
        const piece = value.subarray(off, off + maxHeaderLen);
        const used = call(() => headerReader.push(piece));
        parts.push(piece.subarray(0, used));
        total += used;
        off += used;
      }
      if (headerReader.complete) {
        const header = /** @type {import('../dist/bundler/pqfile_wasm.js').Header} */ (headerReader.takeHeader());
        const documentId = header.documentId;
        header.free();
        return { bytes: concat(parts, total), documentId, rest: value.subarray(off) };
      }
    }
  } finally {
    headerReader.free();
  }
}

/**
 * Asks the key server to rewrap `old` and checks the answer is one header
 * of the same document with a stanza for the key it names.
 * @param {RewrapService} client
 * @param {{ bytes: Uint8Array, documentId: string }} old
 * @returns {Promise<RewrapAnswer>}
 */
async function rewrapHeader(client, old) {
  const answer = await client.rewrap(old.documentId, old.bytes);
  const wasm = await init();
  /** @param {string} what */
  const bad = (what) => new KeyServerError(200, ClientErrorCode.BadServerResponse, `the key server's rewrapped header ${what}`);
  let header;
  try {
    header = wasm.Header.parse(answer.header);
  } catch (e) {
    throw new KeyServerError(200, ClientErrorCode.BadServerResponse, "the key server's rewrapped header is not a valid header", { cause: e });
  }
  try {
    if (header.length !== answer.header.length) throw bad('is not exactly one header');
    if (header.documentId !== old.documentId) throw bad('belongs to another document');
    const stanzas = header.stanzas;
    const keyIds = stanzas.map((s) => s.keyId);
    for (const s of stanzas) s.free();
    if (!keyIds.includes(answer.keyId)) throw bad(`has no stanza for key ${answer.keyId}`);
  } finally {
    header.free();
  }
  return answer;
}

/**
 * The rest of a stream after its header: `first` (the new header and the
 * bytes read past the old header), then `reader`'s chunks as they are
 * pulled (backpressure: one chunk at a time).
 * @param {Uint8Array[]} first
 * @param {ReadableStreamDefaultReader<Uint8Array>} reader
 * @returns {ReadableStream<Uint8Array>}
 */
function continueWith(first, reader) {
  const pending = first.filter((b) => b.length > 0);
  return new ReadableStream({
    async pull(controller) {
      const next = pending.shift();
      if (next) return controller.enqueue(next);
      const { value, done } = await reader.read();
      if (done) return controller.close();
      if (!(value instanceof Uint8Array)) throw new TypeError('stream chunks must be Uint8Array');
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/**
 * Moves a whole .pqf file to a current key: asks the key server to rewrap
 * its header (`client.rewrap`) and returns the file with the new header and
 * the old file's bytes after the old header, unchanged. A Uint8Array gives
 * a Uint8Array, a Blob (or File) a Blob that slices the input (nothing is
 * copied), a ReadableStream a ReadableStream that passes the input's chunks
 * through as it is read; the returned promise settles once the header is
 * rewrapped. Refusals are the key server's KeyServerErrors (e.g. 403
 * `key_revoked`, 409 `stored_header_mismatch`); an input that does not start
 * with a valid header is the header's PqfileError (`bad_magic`,
 * `truncated_header`, ...) and is never sent.
 * @overload
 * @param {RewrapService} client
 * @param {Uint8Array} input
 * @returns {Promise<RewrappedFile<Uint8Array>>}
 */
/**
 * @overload
 * @param {RewrapService} client
 * @param {Blob} input
 * @returns {Promise<RewrappedFile<Blob>>}
 */
/**
 * @overload
 * @param {RewrapService} client
 * @param {ReadableStream<Uint8Array>} input
 * @returns {Promise<RewrappedFile<ReadableStream<Uint8Array>>>}
 */
/**
 * @param {RewrapService} client
 * @param {Uint8Array | Blob | ReadableStream<Uint8Array>} input
 * @returns {Promise<RewrappedFile<any>>}
 */
export async function rewrapFile(client, input) {
  /** @type {ReadableStream<Uint8Array>} */
  let source;
  if (input instanceof Uint8Array) source = streamOf(input);
  else if (isBlob(input)) source = input.stream();
  else if (input && typeof (/** @type {any} */ (input).getReader) === 'function') source = /** @type {ReadableStream<Uint8Array>} */ (input);
  else throw new TypeError('rewrapFile: expected a Uint8Array, a Blob or a ReadableStream<Uint8Array>');

  const reader = source.getReader();
  let old;
  let answer;
  try {
    old = await readHeader(reader);
    answer = await rewrapHeader(client, old);
  } catch (e) {
    reader.cancel(e).catch(() => {});
    throw e;
  }
  const { header, keyId, replacedKeyId } = answer;
  /** @type {any} */
  let file;
  if (input instanceof Uint8Array) {
    reader.cancel().catch(() => {});
    const rest = input.subarray(old.bytes.length);
    file = concat([header, rest], header.length + rest.length);
  } else if (isBlob(input)) {
    reader.cancel().catch(() => {});
    file = new Blob([/** @type {BlobPart} */ (header), input.slice(old.bytes.length)], { type: input.type });
  } else {
    file = continueWith([header, old.rest], reader);
  }
  return { file, documentId: old.documentId, keyId, replacedKeyId, header };
}
