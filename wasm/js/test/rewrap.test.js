// Retiring keys in the package, against the in-process stub and stand-ins:
// the unwrap answer's key state on the Decrypter (`keyState`), the client's
// rewrap, and rewrapFile (new header + the old file's bytes after the old
// header, for Uint8Array, Blob and stream input, the stream passed through
// chunk by chunk). The same against the real key server, with a key really
// retired by maintenance: test/live/rewrap.test.js (scripts/test.d/60-web.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as pqfile from 'pqfile';
import { Decrypter, Encrypter, KeyServerClient, KeyServerError, PqfileError, rewrapFile } from 'pqfile';
import { startStubKeyServer } from './stub-keyserver.js';
import { pattern } from './shared/equivalence.js';
import { collect, streamOf } from './helpers.js';

/** [status, code] of the stub's answer to every rewrap, when set. */
let rewrapRefusal;
let stub;
let client;
before(async () => {
  stub = await startStubKeyServer({ refuseRewrap: () => rewrapRefusal });
  client = new KeyServerClient(stub.url, stub.token);
});
after(() => stub.close());

const EXPIRES = '2030-01-02T03:04:05.678Z';
const headerLength = (file) => {
  const h = pqfile.Header.parse(file);
  const n = h.length;
  h.free();
  return n;
};

test('the state of the key that opened the file is on the Decrypter (keyState)', async () => {
  const data = pattern(50000);
  const file = await new Encrypter().useKeyServer(client).encrypt(data);
  stub.keyState = { key_status: 'rotation_queued', key_expires_at: EXPIRES };
  try {
    const dec = new Decrypter().useKeyServer(client);
    assert.equal(dec.keyState, undefined);
    assert.deepEqual(await dec.decrypt(file), data);
    assert.deepEqual(dec.keyState, { keyId: stub.keyId, status: 'rotation_queued', expiresAt: EXPIRES, retiring: true });

    // Streamed: known once the header is through, before the first plaintext byte.
    const streamed = new Decrypter().useKeyServer(client);
    const reader = streamOf(file, 4000).pipeThrough(streamed.decryptStream()).getReader();
    const first = await reader.read();
    assert.ok(first.value.length > 0);
    assert.equal(streamed.keyState?.retiring, true);
    await reader.cancel();

    // The same Decrypter on an active key forgets the retiring one.
    stub.keyState = { key_status: 'active', key_expires_at: null };
    assert.deepEqual(await dec.decrypt(file), data);
    assert.deepEqual(dec.keyState, { keyId: stub.keyId, status: 'active', expiresAt: null, retiring: false });

    // A server from before key expiry says nothing: undefined, and the file decrypts.
    stub.keyState = null;
    assert.deepEqual(await dec.decrypt(file), data);
    assert.equal(dec.keyState, undefined);
  } finally {
    stub.keyState = { key_status: 'active', key_expires_at: null };
  }

  // A stand-in with only unwrap(): no key state.
  const plain = { createDocument: () => client.createDocument(), unwrap: (...a) => client.unwrap(...a) };
  const viaStandIn = new Decrypter().useKeyServer(plain);
  assert.deepEqual(await viaStandIn.decrypt(file), data);
  assert.equal(viaStandIn.keyState, undefined);

  // A local identity: no key state.
  const seed = crypto.getRandomValues(new Uint8Array(64));
  const sk = pqfile.MlKem768SecretKey.fromSeed(seed);
  const pk = sk.publicKey();
  const localFile = await new Encrypter().addRecipient(1, pk.toBytes()).encrypt(data);
  pk.free();
  sk.free();
  const local = new Decrypter().addIdentity(1, seed).useKeyServer(client);
  assert.deepEqual(await local.decrypt(localFile), data);
  assert.equal(local.keyState, undefined);
});

test('an unwrap answer with a malformed key state is bad_server_response', async () => {
  const file = await new Encrypter().useKeyServer(client).encrypt(pattern(100));
  // The real answer, with its key fields replaced.
  const answering = (fields) => async (url, init) => {
    const res = await fetch(url, init);
    const json = await res.json();
    return new Response(JSON.stringify({ ...json, ...fields }), { status: res.status });
  };
  for (const fields of [
    { key_status: 3 },
    { key_id: '42' },
    { key_status: undefined, key_id: undefined, key_expires_at: 'soon' },
    { key_expires_at: 'soon' },
    { key_expires_at: 17 },
    { transport_stanza: '!!not base64!!' },
  ]) {
    const odd = new KeyServerClient(stub.url, stub.token, { fetch: answering(fields) });
    await assert.rejects(new Decrypter().useKeyServer(odd).decrypt(file), (e) => {
      assert.ok(e instanceof KeyServerError, `${JSON.stringify(fields)}: ${e}`);
      assert.equal(e.code, 'bad_server_response', JSON.stringify(fields));
      return true;
    });
  }
});

test('KeyServerClient.rewrap sends the whole header and returns the new one', async () => {
  const file = await new Encrypter().useKeyServer(client).encrypt(pattern(1000));
  const h = pqfile.Header.parse(file);
  const header = file.slice(0, h.length);
  const doc = h.documentId;
  h.free();
  const answer = await client.rewrap(doc, header);
  assert.deepEqual(answer, { header, keyId: stub.keyId, replacedKeyId: stub.keyId });
  const call = stub.calls.findLast((c) => c.url.endsWith('/rewrap'));
  assert.equal(call.url, `/v1/documents/${doc}/rewrap`);
  assert.equal(call.method, 'POST');
  assert.equal(call.authorization, `Bearer ${stub.token}`);
  assert.deepEqual(JSON.parse(call.body), { header: Buffer.from(header).toString('base64') });

  // The server's refusals, with their codes.
  const refused = (status, code) => (e) => e instanceof KeyServerError && e.status === status && e.code === code;
  await assert.rejects(client.rewrap(doc, file), refused(400, 'invalid_header'));
  const tampered = header.slice();
  tampered[tampered.length - 1] ^= 1;
  await assert.rejects(client.rewrap(doc, tampered), refused(400, 'decryption_failed'));
  await assert.rejects(client.rewrap('00'.repeat(15) + '01', header), refused(404, 'document_not_found'));
  await assert.rejects(new KeyServerClient(stub.url, 'wrong').rewrap(doc, header), refused(401, 'unauthorized'));
  await assert.rejects(client.rewrap(doc, Array.from(header)), TypeError);

  // Answers without the documented shape.
  const answering = (body) => new KeyServerClient('http://keys.invalid', 't', { fetch: async () => new Response(JSON.stringify(body), { status: 200 }) });
  for (const body of [{}, { header: 'AAAA' }, { header: '%%%', key_id: 1, replaced_key_id: 2 }, { header: 'AAAA', key_id: 1 }]) {
    await assert.rejects(answering(body).rewrap(doc, header), refused(200, 'bad_server_response'), JSON.stringify(body));
  }
});

/**
 * A rewrap service that answers `header` (of the same document, for key
 * `keyId`) and records what it was sent.
 */
function answeringWith(header, keyId, replacedKeyId) {
  const sent = [];
  return {
    sent,
    rewrap: async (documentId, old) => {
      sent.push({ documentId, old: old.slice() });
      return { header, keyId, replacedKeyId };
    },
  };
}

/** A file of `data` for the stub's key, and another header of its document for key 9 (the same length). */
async function fileAndNewHeader(data) {
  const file = await new Encrypter().useKeyServer(client).encrypt(data);
  const h = pqfile.Header.parse(file);
  const doc = h.documentId;
  h.free();
  const sk = pqfile.MlKem768SecretKey.generate();
  const pk = sk.publicKey();
  const other = await new Encrypter().addRecipient(9, pk.toBytes()).setDocumentId(doc).encrypt(new Uint8Array(1));
  pk.free();
  sk.free();
  const newHeader = other.slice(0, headerLength(other));
  assert.equal(newHeader.length, headerLength(file));
  return { file, doc, newHeader, oldLength: headerLength(file) };
}

test('rewrapFile: the new header, then the old bytes after the old header (Uint8Array, Blob, stream)', async () => {
  const data = pattern(200000, 5);
  const { file, doc, newHeader, oldLength } = await fileAndNewHeader(data);
  const expected = new Uint8Array([...newHeader, ...file.subarray(oldLength)]);
  const service = answeringWith(newHeader, 9, stub.keyId);

  const fromBytes = await rewrapFile(service, file);
  assert.ok(fromBytes.file instanceof Uint8Array);
  assert.deepEqual(fromBytes.file, expected);
  assert.deepEqual({ ...fromBytes, file: null }, { file: null, documentId: doc, keyId: 9, replacedKeyId: stub.keyId, header: newHeader });

  const fromBlob = await rewrapFile(service, new Blob([file], { type: 'application/x-pqf' }));
  assert.ok(fromBlob.file instanceof Blob);
  assert.equal(fromBlob.file.type, 'application/x-pqf');
  assert.deepEqual(new Uint8Array(await fromBlob.file.arrayBuffer()), expected);

  // Pieces smaller than the header and pieces straddling its end.
  for (const size of [1000, 7, oldLength, oldLength + 1, 65536]) {
    const fromStream = await rewrapFile(service, streamOf(file, size));
    assert.ok(fromStream.file instanceof ReadableStream);
    assert.deepEqual(await collect(fromStream.file), expected, `pieces of ${size}`);
  }

  // Each time the service got exactly the old header, byte for byte.
  assert.equal(service.sent.length, 7);
  for (const s of service.sent) assert.deepEqual(s, { documentId: doc, old: file.slice(0, oldLength) });

  // And through the stub's real HTTP round trip (it answers the header unchanged).
  const viaStub = await rewrapFile(client, file);
  assert.deepEqual(viaStub.file, file);
  assert.equal(viaStub.keyId, stub.keyId);
});

test('rewrapFile passes a stream through: reads only the header before answering, then chunk by chunk', async () => {
  const { file, newHeader, oldLength } = await fileAndNewHeader(pattern(40000));
  // A source of 16 KiB chunks, which says how many chunks were pulled.
  const chunks = [];
  for (let off = 0; off < file.length; off += 16384) chunks.push(file.slice(off, off + 16384));
  let pulled = 0;
  const source = new ReadableStream({
    pull(controller) {
      if (pulled === chunks.length) return controller.close();
      controller.enqueue(chunks[pulled++]);
    },
  }, { highWaterMark: 0 });
  const { file: out } = await rewrapFile(answeringWith(newHeader, 9, stub.keyId), source);
  const headerChunks = Math.ceil(oldLength / 16384);
  assert.equal(pulled, headerChunks, 'more than the header was read before the rewrap answer');
  const reader = out.getReader();
  const got = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    got.push(r.value);
    // Never more than one chunk ahead of what was taken.
    assert.ok(pulled <= headerChunks + got.length, `${pulled} chunks pulled for ${got.length} taken`);
  }
  assert.deepEqual(got[0], newHeader);
  // After the header and the rest of its last chunk, the input's very chunks (not copies).
  const passed = got.slice(2);
  assert.ok(passed.length > 0);
  for (const [i, c] of passed.entries()) assert.equal(c, chunks[headerChunks + i], `chunk ${i} was copied`);
});

test('rewrapFile refuses what is not a .pqf before asking, and reports refusals and bad answers', async () => {
  const { file, newHeader } = await fileAndNewHeader(pattern(3000));
  const service = answeringWith(newHeader, 9, stub.keyId);
  const fileError = (code) => (e) => e instanceof PqfileError && e.code === code;
  await assert.rejects(rewrapFile(service, new TextEncoder().encode('just some notes, not a pqfile')), fileError('bad_magic'));
  await assert.rejects(rewrapFile(service, file.slice(0, 600)), fileError('truncated_header'));
  await assert.rejects(rewrapFile(service, new Blob([file.slice(0, 30)])), fileError('truncated_header'));
  await assert.rejects(rewrapFile(service, streamOf(new Uint8Array(0), 10)), fileError('truncated_header'));
  await assert.rejects(rewrapFile(service, 'file.pqf'), TypeError);
  assert.equal(service.sent.length, 0, 'a bad input was sent to the key server');

  // The server's refusal, with its code; the input stream is cancelled.
  rewrapRefusal = [409, 'stored_header_mismatch'];
  try {
    let cancelled = false;
    const source = new ReadableStream({
      start(c) {
        c.enqueue(file.slice());
      },
      cancel() {
        cancelled = true;
      },
    });
    await assert.rejects(rewrapFile(client, source), (e) => e instanceof KeyServerError && e.status === 409 && e.code === 'stored_header_mismatch');
    assert.ok(cancelled, 'the input stream was left open');
  } finally {
    rewrapRefusal = undefined;
  }

  // Answers that are not a header of this document for the key they name.
  const bad = (e) => e instanceof KeyServerError && e.code === 'bad_server_response';
  const other = await new Encrypter().useKeyServer(client).encrypt(pattern(10));
  const otherHeader = other.slice(0, headerLength(other));
  for (const [header, keyId] of [
    [newHeader.subarray(1), 9],
    [new Uint8Array([...newHeader, 0]), 9],
    [otherHeader, stub.keyId],
    [newHeader, 10],
  ]) {
    await assert.rejects(rewrapFile(answeringWith(header, keyId, stub.keyId), file), bad);
  }
});
