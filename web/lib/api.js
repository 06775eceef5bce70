// The key server's listing endpoints for "My documents" (bearer token):
//   GET /v1/documents            -> {"documents": [{document_id, key_id, created_at, owner}]}
//   GET /v1/documents/{id}/access -> {"entries": [{access_type, timestamp, user, ip_address, user_agent}]}
// Encrypting and decrypting use the package's KeyServerClient instead.

import { KeyServerError } from '../vendor/pqfile/src/browser.js';

async function get(path, token) {
  let res;
  try {
    res = await fetch(new URL(path, location.origin), {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      cache: 'no-store',
    });
  } catch (e) {
    throw new KeyServerError(0, 'network_error', 'the key server could not be reached', { cause: e });
  }
  let json;
  try {
    json = await res.json();
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = json?.error;
    throw new KeyServerError(res.status, err?.code || `http_${res.status}`, err?.message || `the key server answered ${res.status}`);
  }
  return json;
}

/** The caller's documents, newest first as the server sends them. */
export async function listDocuments(token) {
  const json = await get('/v1/documents', token);
  return Array.isArray(json?.documents) ? json.documents : [];
}

/** The access history of one document. */
export async function accessHistory(token, documentId) {
  const json = await get(`/v1/documents/${encodeURIComponent(documentId)}/access`, token);
  return Array.isArray(json?.entries) ? json.entries : [];
}
