// The account calls of the package against the real key server
// (scripts/with-stack.sh; run by scripts/test.d/60-web.sh): `me()`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { KeyServerClient, KeyServerError } from 'pqfile';
import { BASE_URL, KeyServer, TOKENS } from '../../../../web/e2e/harness.js';

const server = new KeyServer();
let alice;
before(async () => {
  await server.start();
  alice = new KeyServerClient(BASE_URL(), TOKENS().alice);
});
after(() => server.stop());

test('me() names the token\'s user; a bad token is refused with its code', async () => {
  assert.deepEqual(Object.keys(await alice.me()).sort(), ['id', 'name', 'role']);
  const me = await alice.me();
  assert.equal(me.name, 'alice');
  assert.equal(me.role, 'user');
  assert.ok(Number.isInteger(me.id) && me.id > 0);
  await assert.rejects(new KeyServerClient(BASE_URL(), 'pqf_not-a-token').me(), (e) => e instanceof KeyServerError && e.status === 401 && e.code === 'invalid_token');
});
