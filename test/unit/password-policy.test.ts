// The password policy: each rule with its exact message, code-point boundaries, NFKC, and optional composition rules.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  commonPasswordList, normalizePassword, passwordProblem, type PasswordContext, type PolicyOptions,
} from '../../src/crypto/password-policy.js';

const DEFAULT: PolicyOptions = { minLength: 8, compositionRules: false };
const STRICT: PolicyOptions = { minLength: 8, compositionRules: true };
const NONE: PasswordContext = {};
const check = (password: string, context: PasswordContext = NONE, options: PolicyOptions = DEFAULT) =>
  passwordProblem(password, context, options);

describe('common-password list', () => {
  it('ships at least 10,000 lower-cased, distinct entries and loads all of them once', () => {
    const lines = readFileSync(new URL('../../data-files/common-passwords.txt', import.meta.url), 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(10_000);
    expect(new Set(lines).size).toBe(lines.length);
    expect(lines.every((line) => line === line.toLowerCase() && line.trim() === line && line.length > 0)).toBe(true);
    expect(commonPasswordList().size).toBe(lines.length);
    expect(commonPasswordList()).toBe(commonPasswordList());
  });

  it('refuses listed passwords whatever their case or Unicode compatibility form', () => {
    for (const password of ['password', 'PASSWORD', 'Password', '12345678', 'baseball', 'iloveyou', 'trustno1',
      'ｐａｓｓｗｏｒｄ' /* full-width: NFKC folds it to "password" */]) {
      expect(check(password), password).toBe('Password is too common');
    }
    expect(check('password', NONE, STRICT)).toBe('Password is too common'); // before composition is looked at
  });
});

describe('length', () => {
  it('counts code points: 7 is too short, 8 passes, also for characters outside the BMP', () => {
    expect(check('tq7-vmx')).toBe('Password must be at least 8 characters');
    expect(check('tq7-vmxz')).toBeNull();
    expect(check('🔐'.repeat(7))).toBe('Password must be at least 8 characters'); // 14 UTF-16 units, 7 characters
    expect(check('🔐'.repeat(8))).toBeNull();
    expect(check('')).toBe('Password must be at least 8 characters');
  });

  it('uses the configured minimum', () => {
    const options = { minLength: 15, compositionRules: false };
    expect(check('correct-horse-', NONE, options)).toBe('Password must be at least 15 characters');
    expect(check('correct-horse-b', NONE, options)).toBeNull();
  });

  it('allows 128 code points and refuses 129, with one- and multi-byte characters alike', () => {
    for (const char of ['a', 'é', '€', '🔐']) {
      expect(check(char.repeat(128)), char).toBeNull();
      expect(check(char.repeat(129)), char).toBe('Password must be at most 128 characters');
    }
    expect(check('x'.repeat(1_000_000))).toBe('Password must be at most 128 characters');
  });

  it('measures the NFKC form: "e" + combining accent is one character, as the user typed it', () => {
    const composed = 'e\u0301'.repeat(128); // 256 code points before normalising, 128 "é" after
    expect(check(composed)).toBeNull();
    expect(normalizePassword(composed)).toBe('é'.repeat(128));
    expect(normalizePassword('ｐａｓｓ')).toBe('pass');
    expect(normalizePassword('a'.repeat(129))).toBeNull();
  });

  it('the minimum holds for the typed text too: a ligature or an Arabic honorific that NFKC expands is still short', () => {
    expect(check('\uFDFA')).toBe('Password must be at least 8 characters'); // one character, 18 after NFKC
    expect(check('\uFB03\uFB03\uFB03')).toBe('Password must be at least 8 characters'); // "ﬃﬃﬃ": 3 typed, 9 after
    expect(check('e\u0301'.repeat(4))).toBe('Password must be at least 8 characters'); // 8 code points, 4 "é" after
    expect(check('\uFB03\uFB03\uFB03xyzwv')).toBeNull(); // 8 typed
  });
});

describe('username and email', () => {
  it('refuses the username as the password, ignoring case and compatibility forms; a password holding it is fine', () => {
    const context = { username: 'Alice_W' };
    expect(check('alice_w!', context)).toBeNull();
    expect(check('ALICE_W1', { username: 'Alice_W12' })).toBeNull();
    expect(check('ALICE_W12', { username: 'Alice_W12' })).toBe('Password must not be the username');
    expect(check('ａｌｉｃｅ_ｗ１２', { username: 'Alice_W12' })).toBe('Password must not be the username');
    expect(check('my-ALICE_W-secret', context)).toBeNull();
  });

  it('refuses the email, or its local part alone, ignoring case; a password holding them is fine', () => {
    const context = { email: 'Jane.Doe@Example.com' };
    expect(check('jane.doe@example.com', context)).toBe('Password must not be the email address');
    expect(check(' JANE.DOE ', context)).toBeNull();
    expect(check('JANE.DOE', context)).toBe('Password must not be the email address');
    expect(check('x-JANE.DOE@EXAMPLE.COM-x', context)).toBeNull();
    expect(check('the jane.doe secret', context)).toBeNull();
    // FIRST_SUPERUSER=admin@example.com with a password that names the role.
    expect(check('admin-garden-lantern', { username: 'admin', email: 'admin@example.com' })).toBeNull();
  });

  it('checks the username before the email and both before the list', () => {
    expect(check('bob_smith@example.com', { username: 'bob_smith@example.com', email: 'bob_smith@example.com' }))
      .toBe('Password must not be the username');
    expect(check('password', { username: 'password' })).toBe('Password must not be the username');
  });

  it('never echoes the password in a message', () => {
    const password = 'my-alice_w-secret';
    const message = check(password, { username: 'my-alice_w-secret' });
    expect(message).not.toBeNull();
    expect(message).not.toContain(password);
  });
});

describe('composition rules', () => {
  it('are off by default (NIST SP 800-63B)', () => {
    expect(check('all lower case words')).toBeNull();
  });

  it('when enabled, require lower, upper, digit and symbol, each named', () => {
    expect(check('ALL UPPER 7', NONE, STRICT)).toBe('Password must contain a lowercase letter');
    expect(check('all lower 7', NONE, STRICT)).toBe('Password must contain an uppercase letter');
    expect(check('No Digits Here', NONE, STRICT)).toBe('Password must contain a digit');
    expect(check('NoSymbols77x', NONE, STRICT)).toBe('Password must contain a symbol');
    expect(check('Ok-Then-77x', NONE, STRICT)).toBeNull();
    expect(check('Ünïcödé-ßtraße-9', NONE, STRICT)).toBeNull();
  });
});

describe('options', () => {
  it('refuses a minimum outside 1..128', () => {
    expect(() => check('whatever-long', NONE, { minLength: 0, compositionRules: false }))
      .toThrow(new TypeError('minLength must be an integer from 1 to 128'));
    expect(() => check('whatever-long', NONE, { minLength: 129, compositionRules: false })).toThrow(TypeError);
  });
});
