// Retiring keys in the package against the real key server and PostgreSQL
// (scripts/with-stack.sh; run by scripts/test.d/60-web.sh, not by `npm test`,
// which has no stack): a key aged past its rotation age and retired by
// maintenance is reported on the Decrypter (`keyState`), rewrapFile moves the
// file to a current key without touching the payload (Uint8Array, Blob,
// stream), the old copy keeps decrypting until the key expires, and
// refusals keep their codes. The in-process stub's version:
// test/rewrap.test.js.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as pqfile from 'pqfile';
import { Decrypter, Encrypter, KeyServerClient, KeyServerError, rewrapFile } from 'pqfile';
import { BASE_URL, KeyServer, TOKENS, psql, retireKey } from '../../../../web/e2e/harness.js';
import { pattern } from '../shared/equivalence.js';
import { collect, streamOf } from '../helpers.js';

const server = new KeyServer();
let alice;
before(async () => {
  await server.start();
  alice = new KeyServerClient(BASE_URL(), TOKENS().alice);
});
after(() => server.stop());

/** The header of `file`: its bytes, document id and stanza key ids. */
function headerOf(file) {
  const h = pqfile.Header.parse(file);
  try {
    return { bytes: file.slice(0, h.length), documentId: h.documentId, keyIds: h.stanzas.map((s) => s.keyId) };
  } finally {
    h.free();
  }
}

/** Decrypts `file` as alice; returns the plaintext and the key state. */
async function decrypt(file) {
  const dec = new Decrypter().useKeyServer(alice);
  const plain = await dec.decrypt(file);
  return { plain, keyState: dec.keyState };
}

/** A file of alice's whose key is then retired; its plaintext, header and the key's expiry. */
async function retiredFile(size) {
  const data = pattern(size, 11);
  const file = await new Encrypter().useKeyServer(alice).encrypt(data);
  const header = headerOf(file);
  const [oldKey] = header.keyIds;
  const before = await decrypt(file);
  assert.deepEqual(before.keyState, { keyId: oldKey, status: 'active', expiresAt: null, retiring: false });
  const expiresAt = await retireKey(oldKey);
  return { data, file, header, oldKey, expiresAt };
}

test('a retiring key is reported, and rewrapFile moves the file to a current key, payload untouched', { timeout: 120_000 }, async () => {
  const { data, file, header, oldKey, expiresAt } = await retiredFile(300_000);
  const told = await decrypt(file);
  assert.deepEqual(told.plain, data);
  assert.equal(told.keyState.keyId, oldKey);
  assert.equal(told.keyState.status, 'rotation_queued');
  assert.equal(told.keyState.retiring, true);
  assert.equal(Date.parse(told.keyState.expiresAt), expiresAt, `expiresAt ${told.keyState.expiresAt}`);
  assert.ok(expiresAt > Date.now() + 20 * 86400_000, 'the grace period is not rotation_grace_days (30)');

  const payload = file.subarray(header.bytes.length);
  const moved = await rewrapFile(alice, file);
  assert.equal(moved.documentId, header.documentId);
  assert.equal(moved.replacedKeyId, oldKey);
  assert.notEqual(moved.keyId, oldKey);
  assert.equal(moved.file.length, file.length, 'the rewrapped file has another length');
  assert.deepEqual(moved.file.subarray(0, moved.header.length), moved.header);
  assert.deepEqual(moved.file.subarray(header.bytes.length), payload, 'the payload changed');
  assert.deepEqual(headerOf(moved.file).keyIds, [moved.keyId]);
  assert.equal(psql(`SELECT key_id FROM documents WHERE id = '${header.documentId}'`), String(moved.keyId));
  assert.equal(psql(`SELECT count(*) FROM access_logs WHERE document_id = '${header.documentId}' AND access_type = 'rewrap' AND outcome = 'allowed' AND reason = 'from key ${oldKey}'`), '1');

  // The new file decrypts through an active key; the old copy still does, and is still told.
  const after = await decrypt(moved.file);
  assert.deepEqual(after.plain, data);
  assert.deepEqual(after.keyState, { keyId: moved.keyId, status: 'active', expiresAt: null, retiring: false });
  const old = await decrypt(file);
  assert.deepEqual(old.plain, data);
  assert.equal(old.keyState.retiring, true);

  // A Blob and a stream give the same kind of file (each rewrap adds a key).
  const fromBlob = await rewrapFile(alice, new Blob([file]));
  assert.ok(fromBlob.file instanceof Blob);
  const blobBytes = new Uint8Array(await fromBlob.file.arrayBuffer());
  assert.deepEqual(blobBytes.subarray(header.bytes.length), payload);
  assert.deepEqual((await decrypt(blobBytes)).plain, data);
  const fromStream = await rewrapFile(alice, streamOf(file, 10_000));
  const dec = new Decrypter().useKeyServer(alice);
  assert.deepEqual(await collect(fromStream.file.pipeThrough(dec.decryptStream())), data);
  assert.equal(dec.keyState.keyId, fromStream.keyId);
  assert.equal(dec.keyState.retiring, false);
});

test('rewrap refusals keep their codes; after expiry neither decrypt nor rewrap works', { timeout: 120_000 }, async () => {
  const { file, header, oldKey } = await retiredFile(5_000);
  const refused = (status, code) => (e) => {
    assert.ok(e instanceof KeyServerError, `${e}`);
    assert.equal(`${e.status} ${e.code}`, `${status} ${code}`, e.message);
    return true;
  };
  // Another user: forbidden.
  const mallory = new KeyServerClient(BASE_URL(), TOKENS().mallory);
  await assert.rejects(rewrapFile(mallory, file), refused(403, 'forbidden'));
  // A header whose MAC does not verify.
  const tampered = file.slice();
  tampered[header.bytes.length - 1] ^= 1;
  await assert.rejects(rewrapFile(alice, tampered), refused(400, 'decryption_failed'));
  // Another document's header under this document's id.
  const other = headerOf(await new Encrypter().useKeyServer(alice).encrypt(pattern(10)));
  await assert.rejects(alice.rewrap(header.documentId, other.bytes), refused(400, 'document_mismatch'));
  assert.equal(psql(`SELECT key_id FROM documents WHERE id = '${header.documentId}'`), String(oldKey), 'a refused rewrap changed the document');

  // Past expires_at the key opens nothing for a user: the file had to be rewrapped before.
  psql(`UPDATE encryption_keys SET expires_at = now() - interval '1 second' WHERE id = ${oldKey}`);
  await assert.rejects(decrypt(file), refused(403, 'key_expired'));
  await assert.rejects(rewrapFile(alice, file), refused(403, 'key_expired'));
});
