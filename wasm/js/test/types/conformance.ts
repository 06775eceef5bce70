// The hand-written src/index.d.ts checked against the code it describes
// (compiled by `tsc -p tsconfig.json`, with checkJs over src/): each entry
// point's exports must be exactly the declared names, and each value must
// be assignable to its declared type. A declaration that drifts from the
// JavaScript (a missing or extra export, a method the class lacks, a wrong
// return type, an ErrorCode that lost a code) fails type-checking here.
import type * as Declared from '../../src/index.js';
import * as browser from '../../src/browser.js';
import * as bundler from '../../src/bundler.js';
import * as node from '../../src/node.js';

/** `true` when A and B are the same type, else `false`. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Value exports only (index.d.ts also has type-only names). */
type ValueNames<M> = { [K in keyof M]: M[K] extends abstract new (...args: never) => unknown ? K : M[K] extends object | string | number ? K : never }[keyof M];

type Declarations = Pick<typeof Declared, ValueNames<typeof Declared>>;

function conforms<M extends Declarations>(module: M & Record<Exclude<keyof M, keyof Declarations>, never>): Equal<keyof M, keyof Declarations> {
  return void module as unknown as Equal<keyof M, keyof Declarations>;
}

export const checks: true[] = [conforms(browser), conforms(bundler), conforms(node)];

// The code lists: the declared ErrorCode is the JavaScript one, key for key
// and value for value, and its values are the wasm layer's ErrorCode.
type Same<A, B> = Equal<A, B> extends true ? true : { mismatch: [A, B] };
export const errorCodes: [
  Same<typeof Declared.ErrorCode, typeof browser.ErrorCode>,
  Same<typeof Declared.ClientErrorCode, typeof browser.ClientErrorCode>,
  Same<(typeof Declared.ErrorCode)[keyof typeof Declared.ErrorCode], Declared.ErrorCodeValue>,
] = [true, true, true];
