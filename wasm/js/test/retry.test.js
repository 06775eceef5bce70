// The retry policy of FORMAT.md §7.1, as the npm package applies it (the
// decision is the core's, `shouldTryNextStanza`): after a refusal about the
// stanza's key the client asks about the next stanza; after a refusal about
// the caller, the document or the server it stops at once. The CLI's tests
// (cli/tests/online.rs) check the same against the real key server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as pqfile from 'pqfile';
import { Encrypter, Decrypter, KeyServerClient, KeyServerError } from 'pqfile';
import { startStubKeyServer } from './stub-keyserver.js';
import { pattern } from './shared/equivalence.js';
import { collect, streamOf } from './helpers.js';

/** Key id of the first stanza, one the stub refuses as `refusal` says. */
const OTHER_KEY = 7;
/** [status, code] for the stub's answer about OTHER_KEY (and every key, with `all`). */
let refusal;
let all = false;
let stub;

before(async () => {
  stub = await startStubKeyServer({ refuse: (_doc, keyId) => (all || keyId === OTHER_KEY ? refusal : undefined) });
});
after(() => stub.close());

/** A document of the stub encrypted to two stanzas: OTHER_KEY first, then the stub's key. */
async function twoStanzaFile(client, data) {
  const other = pqfile.MlKem768SecretKey.generate();
  const pk = other.publicKey();
  const enc = new Encrypter().addRecipient(OTHER_KEY, pk.toBytes()).useKeyServer(client);
  pk.free();
  other.free();
  const file = await enc.encrypt(data);
  const header = pqfile.Header.parse(file);
  assert.deepEqual(header.stanzas.map((s) => s.keyId), [OTHER_KEY, stub.keyId]);
  header.free();
  return file;
}

/** Decrypts `file` through the stub; returns the result (or error) and how many unwraps were asked. */
async function decrypt(file, { stream = false } = {}) {
  const client = new KeyServerClient(stub.url, stub.token);
  const before = stub.calls.filter((c) => c.url.endsWith('/unwrap')).length;
  let result;
  try {
    const dec = new Decrypter().useKeyServer(client);
    if (stream) {
      // Pieces smaller than the header: the core's HeaderReader gathers it.
      result = await collect(streamOf(file, 1000).pipeThrough(dec.decryptStream()));
    } else {
      result = await dec.decrypt(file);
    }
  } catch (e) {
    result = e;
  }
  const asked = stub.calls.filter((c) => c.url.endsWith('/unwrap')).length - before;
  return { result, asked };
}

test('a stanza refused for its key is skipped: the next stanza gives the file', async () => {
  const client = new KeyServerClient(stub.url, stub.token);
  const data = pattern(40000);
  const file = await twoStanzaFile(client, data);
  all = false;
  // 403 key_revoked concerns the stanza's key, not the caller.
  for (const r of [[403, 'key_revoked'], [404, 'key_not_found'], [400, 'key_mismatch']]) {
    refusal = r;
    for (const stream of [false, true]) {
      const { result, asked } = await decrypt(file, { stream });
      assert.deepEqual(result, data, `${r} stream=${stream}: ${result}`);
      assert.equal(asked, 2, `${r}`);
    }
  }
});

test('a refusal of the caller, the document or the server stops after one request', async () => {
  const client = new KeyServerClient(stub.url, stub.token);
  const file = await twoStanzaFile(client, pattern(100));
  all = false;
  for (const [status, code] of [[403, 'forbidden'], [401, 'invalid_token'], [404, 'document_not_found'], [429, 'rate_limited'], [503, 'kms_unavailable'], [500, 'internal_error']]) {
    refusal = [status, code];
    const { result, asked } = await decrypt(file);
    assert.ok(result instanceof KeyServerError, `${code}: ${result}`);
    assert.equal(result.status, status);
    assert.equal(result.code, code);
    assert.equal(asked, 1, code);
  }
});

test('when every stanza is refused for its key, the last refusal is reported', async () => {
  const client = new KeyServerClient(stub.url, stub.token);
  const file = await twoStanzaFile(client, pattern(100));
  all = true;
  refusal = [403, 'key_revoked'];
  try {
    const { result, asked } = await decrypt(file);
    assert.ok(result instanceof KeyServerError, `${result}`);
    assert.equal(result.code, 'key_revoked');
    assert.equal(asked, 2);
  } finally {
    all = false;
  }
});

test('an answer that is not a transport stanza is bad_server_response, and final', async () => {
  const client = new KeyServerClient(stub.url, stub.token);
  const file = await new Encrypter().useKeyServer(client).encrypt(pattern(100));
  let asked = 0;
  const garbled = {
    createDocument: () => client.createDocument(),
    unwrap: async (...args) => {
      asked++;
      const t = await client.unwrap(...args);
      return t.subarray(1);
    },
  };
  refusal = undefined;
  await assert.rejects(new Decrypter().useKeyServer(garbled).decrypt(file), (e) => e.code === 'bad_server_response');
  assert.equal(asked, 1);
});
