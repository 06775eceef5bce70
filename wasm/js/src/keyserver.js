// Client of the key server's HTTP API. Encrypter/Decrypter only need an
// object with `createDocument()` and `unwrap()`, so tests and other
// transports can stand in for this class.

import { KeyServerError } from './errors.js';

/** Standard base64 of bytes. */
export function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Bytes of standard base64. */
export function fromBase64(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export class KeyServerClient {
  /**
   * @param {string} baseUrl e.g. "https://keys.example.com"
   * @param {string} token sent as `Authorization: Bearer <token>`
   * @param {{ fetch?: typeof fetch }} [options]
   */
  constructor(baseUrl, token, options = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.token = token;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async #post(path, body) {
    let res;
    try {
      res = await this.fetch(this.baseUrl + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new KeyServerError(0, 'network_error', `the key server could not be reached: ${e.message}`, { cause: e });
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = json && json.error;
      throw new KeyServerError(
        res.status,
        (err && typeof err.code === 'string' && err.code) || `http_${res.status}`,
        (err && typeof err.message === 'string' && err.message) || `the key server answered ${res.status}`,
      );
    }
    if (json === undefined) throw new KeyServerError(res.status, 'bad_response', 'the key server sent a body that is not JSON');
    return json;
  }

  /**
   * `POST /v1/documents`: a new document id and the key to encrypt it to.
   * @returns {Promise<{ documentId: string, keyId: number, algorithm: string, publicKey: Uint8Array }>}
   */
  async createDocument() {
    const json = await this.#post('/v1/documents', {});
    const key = json.key ?? {};
    if (typeof json.document_id !== 'string' || typeof key.key_id !== 'number' || typeof key.public_key !== 'string') {
      throw new KeyServerError(200, 'bad_response', 'the key server\'s document is missing fields');
    }
    if (key.algorithm !== 'ML-KEM-768') {
      throw new KeyServerError(200, 'unsupported_algorithm', `the key server's key uses ${key.algorithm}, not ML-KEM-768`);
    }
    return { documentId: json.document_id, keyId: key.key_id, algorithm: key.algorithm, publicKey: fromBase64(key.public_key) };
  }

  /**
   * `POST /v1/documents/{id}/unwrap`: the file key of `stanza`, re-wrapped to
   * the ephemeral public key as a transport stanza (FORMAT.md §7).
   * @returns {Promise<Uint8Array>} the transport stanza's encoding
   */
  async unwrap(documentId, stanza, ephemeralPublicKey) {
    const json = await this.#post(`/v1/documents/${encodeURIComponent(documentId)}/unwrap`, {
      stanza: toBase64(stanza),
      ephemeral_public_key: toBase64(ephemeralPublicKey),
    });
    if (typeof json.transport_stanza !== 'string') {
      throw new KeyServerError(200, 'bad_response', 'the key server\'s answer has no transport_stanza');
    }
    return fromBase64(json.transport_stanza);
  }
}
