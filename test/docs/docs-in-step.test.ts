// Keeps the documentation in step with the code: every error code and every environment
// variable the code knows is documented, and nothing documented is gone from the code.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/errors/catalogue.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** Variable names the config module reads: read('X', …), int('X', …), bool('X', …) and env.X. */
function configVariables(): string[] {
  const sources = ['src/config/index.ts', 'src/federation/config.ts'].flatMap((p) => {
    try {
      return [read(p)];
    } catch {
      return [];
    }
  });
  const names = new Set<string>();
  for (const source of sources) {
    for (const m of source.matchAll(/\b(?:read|int|bool|list)(?:<[^>]*>)?\(\s*'([A-Z][A-Z0-9_]+)'/g)) names.add(m[1]!);
    for (const m of source.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) names.add(m[1]!);
  }
  return [...names].sort();
}

describe('docs in step with the code', () => {
  it('docs/errors.md lists every error code with its status, and no code that no longer exists', () => {
    const doc = read('docs/errors.md');
    for (const [code, entry] of Object.entries(ERRORS)) {
      expect(doc, `docs/errors.md is missing ${code}`).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${entry.status}\\s*\\|`));
    }
    const documented = [...doc.matchAll(/^\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => m[1]);
    for (const code of documented) expect(Object.keys(ERRORS), `docs/errors.md documents unknown ${code}`).toContain(code);
  });

  it('every environment variable the config reads is in README.md and .env.example', () => {
    const readme = read('README.md');
    const example = read('.env.example');
    const names = configVariables();
    expect(names.length).toBeGreaterThan(20);
    for (const name of names) {
      expect(readme, `README.md does not document ${name}`).toContain(`\`${name}\``);
      expect(example, `.env.example does not mention ${name}`).toMatch(new RegExp(`^#?\\s*${name}=`, 'm'));
    }
  });

  it('every variable of the contract table is read by the config', () => {
    const contractNames = ['ENVIRONMENT', 'SECRET_KEY', 'DATABASE_URL', 'REDIS_URL', 'ALLOWED_ORIGINS', 'HOST', 'PORT', 'TRUST_PROXY',
      'ACCESS_TOKEN_EXPIRE_MINUTES', 'REFRESH_TOKEN_EXPIRE_DAYS', 'JWT_ALGORITHM', 'DATA_DIR', 'FIRST_SUPERUSER', 'FIRST_SUPERUSER_PASSWORD',
      'RATE_LIMIT_DEFAULT', 'RATE_LIMIT_AUTH', 'LOCKOUT_THRESHOLD', 'LOCKOUT_WINDOW_MINUTES', 'PASSWORD_MIN_LENGTH', 'SESSION_MAX_DAYS',
      'SMTP_URL', 'LOG_LEVEL'];
    const names = configVariables();
    for (const name of contractNames) expect(names, `config does not read ${name}`).toContain(name);
  });
});
