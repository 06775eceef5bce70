// Encrypts or decrypts a file with the `pqfile` npm package in Node against
// the key server, so the CLI tests can check that both produce and read the
// same format: node npm-client.mjs encrypt|decrypt IN OUT
// (PQFILE_TEST_SERVER and PQFILE_TEST_TOKEN name the server and token.)
import { readFile, writeFile } from 'node:fs/promises';
import { Decrypter, Encrypter, KeyServerClient } from '../../../wasm/js/src/node.js';

const [mode, input, output] = process.argv.slice(2);
const client = new KeyServerClient(process.env.PQFILE_TEST_SERVER, process.env.PQFILE_TEST_TOKEN);
const data = new Uint8Array(await readFile(input));
const out = mode === 'encrypt'
  ? await new Encrypter().useKeyServer(client).encrypt(data)
  : await new Decrypter().useKeyServer(client).decrypt(data);
await writeFile(output, out);
