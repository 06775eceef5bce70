// The hand-written index.d.ts plus the generated wasm-bindgen types compile
// against a strict TypeScript program that uses the API.
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('TypeScript types compile (tsc --noEmit --strict)', () => {
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  execFileSync('node', [tsc, '-p', fileURLToPath(new URL('./types/tsconfig.json', import.meta.url))], { stdio: 'inherit' });
});
