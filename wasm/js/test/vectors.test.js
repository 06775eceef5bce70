// Every vector in testdata/ (the same ones the Rust tests run), through the
// WebCrypto path and the wasm path, whole and streamed in odd-sized pieces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decrypter, PqfileError } from 'pqfile';
import { loadVectors, sha256, unhex, streamOf, collect } from './helpers.js';

const vectors = loadVectors();

test('the manifest has success and failure vectors', () => {
  assert.ok(vectors.length >= 30, `only ${vectors.length} vectors`);
  assert.ok(vectors.some((v) => v.expect === 'success'));
  assert.ok(vectors.some((v) => v.expect === 'error'));
});

function decrypter(v, webCrypto) {
  const d = new Decrypter({ webCrypto });
  for (const id of v.identities) d.addIdentity(id.key_id, unhex(id.seed));
  return d;
}

for (const webCrypto of [true, false]) {
  const path = webCrypto ? 'webcrypto' : 'wasm';
  for (const v of vectors) {
    test(`vector ${v.name} (${path}, whole)`, async () => {
      const run = decrypter(v, webCrypto).decrypt(v.bytes);
      if (v.expect === 'success') {
        const pt = await run;
        assert.equal(pt.length, v.plaintext_len);
        assert.equal(sha256(pt), v.plaintext_sha256);
      } else {
        await assert.rejects(run, (e) => {
          assert.ok(e instanceof PqfileError, `${e}`);
          assert.equal(e.code, v.error);
          return true;
        });
      }
    });

    test(`vector ${v.name} (${path}, streamed in 1000-byte pieces)`, async () => {
      const run = decrypter(v, webCrypto).decrypt(streamOf(v.bytes, 1000)).then(collect);
      if (v.expect === 'success') {
        assert.equal(sha256(await run), v.plaintext_sha256);
      } else {
        await assert.rejects(run, (e) => e.code === v.error);
      }
    });
  }
}
