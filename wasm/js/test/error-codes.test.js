// One error vocabulary: the code lists written in five places must agree.
//   core      the Rust core's codes (the wasm export `errorCodes()`)
//   wasm      the wasm layer's `ErrorCode` string enum (its generated .d.ts)
//   errors.js the package's ErrorCode (and ClientErrorCode) objects
//   index.d.ts the published declarations of both
//   page      web/lib/messages.js: a message for every code of both
// A code added to or dropped from any one of them fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import ts from 'typescript';
import { ClientErrorCode, ErrorCode } from '../src/errors.js';
import { CLIENT_ERRORS, FILE_ERRORS } from '../../../web/lib/messages.js';

const require = createRequire(import.meta.url);
const read = (path) => readFileSync(new URL(path, import.meta.url), 'utf8');
const sorted = (values) => [...values].sort();

/** Codes the wasm layer raises itself, for misuse of its objects; the core has no such state. */
const WASM_ONLY = ['invalid_state'];

/** The string literals of `export type NAME = "a" | "b" | …` in a .d.ts. */
function unionType(source, name) {
  const file = ts.createSourceFile('x.d.ts', source, ts.ScriptTarget.Latest);
  const alias = file.statements.find((s) => ts.isTypeAliasDeclaration(s) && s.name.text === name);
  assert.ok(alias, `no type ${name}`);
  const types = ts.isUnionTypeNode(alias.type) ? alias.type.types : [alias.type];
  return types.map((t) => t.literal.text);
}

/** Key -> string literal of `export declare const NAME: Readonly<{ Key: 'value'; … }>` in a .d.ts. */
function constObjectType(source, name) {
  const file = ts.createSourceFile('x.d.ts', source, ts.ScriptTarget.Latest);
  let decl;
  for (const s of file.statements) {
    if (!ts.isVariableStatement(s)) continue;
    decl ??= s.declarationList.declarations.find((d) => d.name.text === name);
  }
  assert.ok(decl, `no const ${name}`);
  let type = decl.type;
  if (ts.isTypeReferenceNode(type)) type = type.typeArguments[0]; // Readonly<{…}>
  return Object.fromEntries(type.members.map((m) => [m.name.text, m.type.literal.text]));
}

test('the core, the wasm layer, errors.js, index.d.ts and the page list the same error codes', () => {
  const wasm = unionType(read('../dist/node/pqfile_wasm.d.ts'), 'ErrorCode');
  const declared = read('../src/index.d.ts');

  const core = require('../dist/node/pqfile_wasm.js').errorCodes();
  assert.deepEqual(sorted(wasm), sorted([...core, ...WASM_ONLY]), 'the wasm ErrorCode enum = the core\'s errorCodes() + the wasm layer\'s own');

  assert.deepEqual(sorted(Object.values(ErrorCode)), sorted(wasm), 'errors.js ErrorCode = the wasm ErrorCode enum');
  assert.deepEqual(constObjectType(declared, 'ErrorCode'), { ...ErrorCode }, 'index.d.ts ErrorCode = errors.js ErrorCode');
  assert.deepEqual(sorted(Object.keys(FILE_ERRORS)), sorted(Object.values(ErrorCode)), 'web/lib/messages.js FILE_ERRORS: one message per ErrorCode');

  assert.deepEqual(constObjectType(declared, 'ClientErrorCode'), { ...ClientErrorCode }, 'index.d.ts ClientErrorCode = errors.js ClientErrorCode');
  assert.deepEqual(sorted(Object.keys(CLIENT_ERRORS)), sorted(Object.values(ClientErrorCode)), 'web/lib/messages.js CLIENT_ERRORS: one message per ClientErrorCode');
});

test('every PqfileError code gets its own message on the page, not the fallback', async () => {
  globalThis.location ??= { origin: 'http://127.0.0.1' };
  const { describeError } = await import('../../../web/lib/messages.js');
  const ctx = { mode: 'decrypt', fileName: 'f.pqf' };
  for (const code of Object.values(ErrorCode)) {
    const m = describeError({ name: 'PqfileError', code, message: `m ${code}` }, ctx);
    assert.ok(m.title && m.detail, code);
  }
  for (const code of Object.values(ClientErrorCode)) {
    const m = describeError({ name: 'KeyServerError', status: code === 'server_unreachable' ? 0 : 200, code, message: 'm' }, ctx);
    assert.notEqual(m.title, 'The key server refused the request.', code);
  }
});

test('the key server\'s token, rate and quota refusals each say what to do (issue 12)', async () => {
  globalThis.location ??= { origin: 'http://127.0.0.1' };
  const { describeError } = await import('../../../web/lib/messages.js');
  const ctx = { mode: 'encrypt', fileName: 'f.txt' };
  const say = (status, code) => describeError({ name: 'KeyServerError', status, code, message: 'over (quota_documents: 2)' }, ctx);
  const expired = say(401, 'token_expired');
  const revoked = say(401, 'token_revoked');
  const unknown = say(401, 'invalid_token');
  assert.match(expired.detail, /expired/);
  assert.match(revoked.detail, /revoked/);
  assert.equal(new Set([expired.detail, revoked.detail, unknown.detail]).size, 3);
  assert.ok(expired.offerSignIn && revoked.offerSignIn);
  assert.match(say(429, 'rate_limited').title, /Too many requests/);
  const quota = say(403, 'quota_exceeded');
  assert.match(quota.title, /quota/);
  assert.match(quota.detail, /quota_documents: 2/);
});
