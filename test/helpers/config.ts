// A valid Config for tests: fixed strong secret, a private temp DATA_DIR, in-memory SQLite unless overridden.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config, type Env } from '../../src/config/index.js';

export const TEST_SECRET = 'test-only-7Qm2vX9pLr4sTz8bNc1yHd6fKj3wEa5uGo0iPq';

export function tempDir(prefix = 'gatehouse-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function testConfig(overrides: Env = {}): Config {
  const dataDir = tempDir();
  return loadConfig({
    SECRET_KEY: TEST_SECRET,
    DATA_DIR: dataDir,
    DATABASE_URL: 'sqlite::memory:',
    LOG_LEVEL: 'silent',
    // Many tests sign in more often than a real client would; limit tests set their own budgets.
    RATE_LIMIT_AUTH: '1000/minute',
    RATE_LIMIT_DEFAULT: '10000/minute',
    ...overrides,
  }, { cwd: dataDir }).config;
}
