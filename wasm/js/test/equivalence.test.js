import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as pqfile from 'pqfile';
import { webCryptoMatchesWasm, LENGTHS } from './shared/equivalence.js';

test('Node has WebCrypto, so the fast path is the default here', () => {
  assert.equal(pqfile.hasWebCrypto(), true);
});

test('WebCrypto and wasm paths write byte-identical files and read each other (Node)', async () => {
  assert.equal(await webCryptoMatchesWasm(pqfile), LENGTHS.length);
});

test('chunk nonces are the base nonce XOR the big-endian counter', () => {
  const base = new Uint8Array(12).fill(0xaa);
  assert.deepEqual([...pqfile.chunkNonce(base, 0)], [...base]);
  const n = pqfile.chunkNonce(base, 0x0102030405);
  assert.deepEqual([...n.subarray(0, 7)], [0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
  assert.deepEqual([...n.subarray(7)], [0xaa ^ 1, 0xaa ^ 2, 0xaa ^ 3, 0xaa ^ 4, 0xaa ^ 5]);
  // 2^38 - 1: the largest counter the format allows (C4).
  const last = pqfile.chunkNonce(new Uint8Array(12), 2 ** 38 - 1);
  assert.deepEqual([...last], [0, 0, 0, 0, 0, 0, 0, 0x3f, 0xff, 0xff, 0xff, 0xff]);
});
