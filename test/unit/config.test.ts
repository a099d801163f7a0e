// Contract "Configuration": every variable of the table parses with its default; every bad value
// is exactly one line naming its variable; production refuses weak secrets and open origins; the
// development secret is generated once in DATA_DIR (0600); `.env` is read under the real env.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, sqliteFileOf, type Env, type LoadedConfig } from '../../src/config/index.js';
import { tempDir, TEST_SECRET } from '../helpers/config.js';

const STRONG = randomBytes(48).toString('base64'); // what `openssl rand -base64 48` prints

function load(env: Env, cwd = tempDir()): LoadedConfig {
  return loadConfig({ DATA_DIR: join(cwd, 'data'), ...env }, { cwd });
}

/** The refusal's lines; fails the test if the config loaded. */
function refusal(env: Env, cwd = tempDir()): readonly string[] {
  try {
    load(env, cwd);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).lines;
  }
  throw new Error(`expected a refusal for ${JSON.stringify(Object.keys(env))}`);
}

describe('defaults', () => {
  it('match the contract table', () => {
    const cwd = tempDir();
    const { config } = loadConfig({ SECRET_KEY: TEST_SECRET }, { cwd });
    expect(config).toMatchObject({
      environment: 'development',
      isProduction: false,
      secretKey: TEST_SECRET,
      dataDir: join(cwd, 'data'),
      databaseUrl: `sqlite:${join(cwd, 'data', 'gatehouse.db')}`,
      redisUrl: undefined,
      allowedOrigins: ['http://localhost:3000', 'http://localhost:8000'],
      host: '127.0.0.1',
      port: 8000,
      trustProxy: { kind: 'none' },
      accessTokenExpireMinutes: 15,
      refreshTokenExpireDays: 7,
      jwtAlgorithm: 'HS256',
      firstSuperuser: undefined,
      firstSuperuserPassword: undefined,
      rateLimitDefault: { points: 100, durationSeconds: 60 },
      rateLimitAuth: { points: 10, durationSeconds: 60 },
      lockoutThreshold: 5,
      lockoutWindowMinutes: 15,
      passwordMinLength: 8,
      sessionMaxDays: 30,
      smtpUrl: undefined,
      logLevel: 'info',
      maxBodyBytes: 1024 * 1024,
    });
  });

  it('token issuer: PUBLIC_URL when set, else the constant "gatehouse" whatever HOST and PORT say', () => {
    expect(load({ PORT: '8001' }).config.tokenIssuer).toBe('gatehouse');
    expect(load({ PORT: '8002', HOST: '0.0.0.0' }).config.tokenIssuer).toBe('gatehouse');
    expect(load({ PUBLIC_URL: 'https://auth.example.com/' }).config.tokenIssuer).toBe('https://auth.example.com');
  });

  it('is frozen', () => {
    const { config } = load({ SECRET_KEY: TEST_SECRET });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.allowedOrigins)).toBe(true);
    expect(() => { (config as { port: number }).port = 1; }).toThrow(TypeError);
  });
});

describe('ALLOWED_ORIGINS left unset in production', () => {
  it('keeps the development defaults, with a warning saying so; set, or in development, no warning', () => {
    const key = randomBytes(32).toString('hex');
    const unset = load({ ENVIRONMENT: 'production', SECRET_KEY: key });
    expect(unset.config.allowedOrigins).toEqual(['http://localhost:3000', 'http://localhost:8000']);
    expect(unset.warnings.filter((w) => w.startsWith('ALLOWED_ORIGINS'))).toEqual([expect.stringContaining('http://localhost:3000')]);
    expect(load({ ENVIRONMENT: 'production', SECRET_KEY: key, ALLOWED_ORIGINS: 'https://app.example.com' }).warnings.filter((w) => w.startsWith('ALLOWED_ORIGINS'))).toEqual([]);
    expect(load({ SECRET_KEY: key }).warnings.filter((w) => w.startsWith('ALLOWED_ORIGINS'))).toEqual([]);
  });
});

describe('PUBLIC_URL', () => {
  const production: Env = { ENVIRONMENT: 'production', ALLOWED_ORIGINS: 'https://app.example.com', SECRET_KEY: randomBytes(32).toString('hex') };
  it('unset: where the process listens, over http in development and https in production (with a warning there)', () => {
    const dev = load({ SECRET_KEY: TEST_SECRET, HOST: '127.0.0.1', PORT: '9000' });
    expect(dev.config).toMatchObject({ publicUrl: 'http://127.0.0.1:9000', publicUrlSet: false });
    expect(dev.warnings.filter((w) => w.startsWith('PUBLIC_URL'))).toEqual([]);
    const prod = load({ ...production, HOST: '::1', PORT: '9000' });
    expect(prod.config).toMatchObject({ publicUrl: 'https://[::1]:9000', publicUrlSet: false });
    expect(prod.warnings.filter((w) => w.startsWith('PUBLIC_URL'))).toEqual([expect.stringContaining('https://[::1]:9000')]);
  });
  it('set: used as given (trailing slash dropped), no warning', () => {
    const prod = load({ ...production, PUBLIC_URL: 'https://auth.example.com/' });
    expect(prod.config).toMatchObject({ publicUrl: 'https://auth.example.com', publicUrlSet: true });
    expect(prod.warnings.filter((w) => w.startsWith('PUBLIC_URL'))).toEqual([]);
  });
});

describe('every variable of the table parses', () => {
  it('with good values', () => {
    const cwd = tempDir();
    const { config } = load({
      ENVIRONMENT: 'production',
      SECRET_KEY: STRONG,
      DATABASE_URL: 'postgres://gatehouse:pw@db.internal:5432/gatehouse',
      REDIS_URL: 'rediss://:pw@cache.internal:6380/0',
      ALLOWED_ORIGINS: 'https://app.example.com, https://admin.example.com:8443,https://app.example.com',
      HOST: '0.0.0.0',
      PORT: '9000',
      TRUST_PROXY: '10.0.0.0/8, loopback, fd00::/8',
      ACCESS_TOKEN_EXPIRE_MINUTES: '5',
      REFRESH_TOKEN_EXPIRE_DAYS: '14',
      JWT_ALGORITHM: 'EdDSA',
      DATA_DIR: join(cwd, 'state'),
      FIRST_SUPERUSER: 'root_admin@example.com',
      FIRST_SUPERUSER_PASSWORD: 'a long admin passphrase',
      RATE_LIMIT_DEFAULT: '1000/hour',
      RATE_LIMIT_AUTH: '5/15minutes',
      LOCKOUT_THRESHOLD: '3',
      LOCKOUT_WINDOW_MINUTES: '30',
      PASSWORD_MIN_LENGTH: '15',
      SESSION_MAX_DAYS: '60',
      SMTP_URL: 'smtps://mailer:pw@smtp.example.com:465',
      LOG_LEVEL: 'WARN',
    }, cwd);
    expect(config).toMatchObject({
      environment: 'production',
      isProduction: true,
      secretKey: STRONG,
      databaseUrl: 'postgres://gatehouse:pw@db.internal:5432/gatehouse',
      redisUrl: 'rediss://:pw@cache.internal:6380/0',
      allowedOrigins: ['https://app.example.com', 'https://admin.example.com:8443'],
      host: '0.0.0.0',
      port: 9000,
      trustProxy: { kind: 'addresses', addresses: ['10.0.0.0/8', 'loopback', 'fd00::/8'] },
      accessTokenExpireMinutes: 5,
      refreshTokenExpireDays: 14,
      jwtAlgorithm: 'EdDSA',
      dataDir: join(cwd, 'state'),
      firstSuperuser: 'root_admin@example.com',
      firstSuperuserPassword: 'a long admin passphrase',
      rateLimitDefault: { points: 1000, durationSeconds: 3600 },
      rateLimitAuth: { points: 5, durationSeconds: 900 },
      lockoutThreshold: 3,
      lockoutWindowMinutes: 30,
      passwordMinLength: 15,
      sessionMaxDays: 60,
      smtpUrl: 'smtps://mailer:pw@smtp.example.com:465',
      logLevel: 'warn',
    });
  });

  it('SQLite URLs: paths as written, and the SQLAlchemy form FastAPI apps use read as SQLAlchemy reads it', () => {
    for (const [url, file] of [
      ['sqlite:./data/g.db', './data/g.db'], ['sqlite:/srv/g.db', '/srv/g.db'], ['sqlite::memory:', ':memory:'],
      ['sqlite:///./sql_app.db', './sql_app.db'], ['sqlite:///app.db', 'app.db'], ['sqlite:////srv/app.db', '/srv/app.db'],
      ['sqlite://g.db', 'g.db'], ['postgres://u@h/db', undefined],
    ] as const) expect(sqliteFileOf(url), url).toBe(file);
    expect(refusal({ DATABASE_URL: 'sqlite:///' })).toEqual([expect.stringMatching(/^DATABASE_URL /)]);
  });

  it('each JWT algorithm, database kind, and TRUST_PROXY form', () => {
    for (const alg of ['HS256', 'EdDSA', 'ES256']) expect(load({ SECRET_KEY: TEST_SECRET, JWT_ALGORITHM: alg }).config.jwtAlgorithm).toBe(alg);
    for (const url of ['sqlite:./local.db', 'sqlite::memory:', 'postgresql://u@h/db', 'postgres://u@h/db']) {
      expect(load({ SECRET_KEY: TEST_SECRET, DATABASE_URL: url }).config.databaseUrl).toBe(url);
    }
    expect(load({ SECRET_KEY: TEST_SECRET, TRUST_PROXY: '2' }).config.trustProxy).toEqual({ kind: 'hops', hops: 2 });
    expect(load({ SECRET_KEY: TEST_SECRET, TRUST_PROXY: '0' }).config.trustProxy).toEqual({ kind: 'none' });
    expect(load({ SECRET_KEY: TEST_SECRET, TRUST_PROXY: '192.168.1.10' }).config.trustProxy).toEqual({ kind: 'addresses', addresses: ['192.168.1.10'] });
    expect(load({ SECRET_KEY: TEST_SECRET, REDIS_URL: 'redis://127.0.0.1:6379' }).config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(load({ SECRET_KEY: TEST_SECRET, SMTP_URL: 'smtp://127.0.0.1:2525' }).config.smtpUrl).toBe('smtp://127.0.0.1:2525');
  });

  it('an empty value means "unset", as in docker-compose files', () => {
    const { config } = load({ SECRET_KEY: TEST_SECRET, PORT: '', REDIS_URL: '', TRUST_PROXY: '' });
    expect(config.port).toBe(8000);
    expect(config.redisUrl).toBeUndefined();
    expect(config.trustProxy).toEqual({ kind: 'none' });
  });
});

describe('a bad value is exactly one line that starts with its variable', () => {
  const BAD: readonly [string, string][] = [
    ['ENVIRONMENT', 'prod'],
    ['ENVIRONMENT', 'Production'],
    ['DATABASE_URL', 'mysql://root@db/app'],
    ['DATABASE_URL', 'sqlite:'],
    ['DATABASE_URL', 'not a url'],
    ['REDIS_URL', 'http://cache:6379'],
    ['ALLOWED_ORIGINS', 'https://app.example.com/path'],
    ['ALLOWED_ORIGINS', 'ftp://files.example.com'],
    ['ALLOWED_ORIGINS', 'app.example.com'],
    ['ALLOWED_ORIGINS', '*,https://app.example.com'],
    ['ALLOWED_ORIGINS', 'https://*.example.com'],
    ['HOST', 'a host'],
    ['PORT', 'abc'],
    ['PORT', '-1'],
    ['PORT', '65536'],
    ['PORT', '80.5'],
    ['PORT', '0x50'],
    ['TRUST_PROXY', 'true'],
    ['TRUST_PROXY', '*'],
    ['TRUST_PROXY', 'proxy.example.com'],
    ['TRUST_PROXY', '999.1.1.1'],
    ['TRUST_PROXY', '10.0.0.0/99'],
    ['TRUST_PROXY', '0.0.0.0/0'],
    ['TRUST_PROXY', '::/0'],
    ['ACCESS_TOKEN_EXPIRE_MINUTES', '-1'],
    ['ACCESS_TOKEN_EXPIRE_MINUTES', '0'],
    ['ACCESS_TOKEN_EXPIRE_MINUTES', 'fifteen'],
    ['REFRESH_TOKEN_EXPIRE_DAYS', '0'],
    ['JWT_ALGORITHM', 'none'],
    ['JWT_ALGORITHM', 'RS256'],
    ['JWT_ALGORITHM', 'hs256'],
    ['FIRST_SUPERUSER', 'not-an-email'],
    ['FIRST_SUPERUSER', 'a@example.com'],
    ['RATE_LIMIT_DEFAULT', 'fast'],
    ['RATE_LIMIT_DEFAULT', '0/minute'],
    ['RATE_LIMIT_AUTH', '10/fortnight'],
    // Windows past Node's timer ceiling (~24.8 days) would reset at once: never silently unlimited.
    ['RATE_LIMIT_AUTH', '3/25days'],
    ['RATE_LIMIT_DEFAULT', '3/8days'],
    ['RATE_LIMIT_DEFAULT', '10/99999999999999999999minutes'],
    // Counts that would print as 1e+23 in RateLimit-Limit.
    ['RATE_LIMIT_DEFAULT', '99999999999999999999999/minute'],
    ['LOCKOUT_THRESHOLD', '0'],
    ['LOCKOUT_WINDOW_MINUTES', 'x'],
    ['PASSWORD_MIN_LENGTH', '4'],
    ['PASSWORD_MIN_LENGTH', '129'],
    ['SESSION_MAX_DAYS', '1.5'],
    ['SMTP_URL', 'http://mail.example.com'],
    ['SMTP_URL', 'smtp://'],
    ['REDIS_URL', 'redis://'],
    ['REDIS_URL', 'redis://127.0.0.1:6379/abc'],
    ['REDIS_URL', 'redis://127.0.0.1:6379/-1'],
    ['REDIS_URL', 'redis://127.0.0.1:6379/0/extra'],
    ['LOG_LEVEL', 'loud'],
    ['MAX_BODY_BYTES', 'lots'],
  ];
  for (const [name, value] of BAD) {
    it(`${name}=${JSON.stringify(value)}`, () => {
      // FIRST_SUPERUSER is checked with its password present, so only the address is wrong.
      const extra = name === 'FIRST_SUPERUSER' ? { FIRST_SUPERUSER_PASSWORD: 'a long admin passphrase' } : {};
      const lines = refusal({ SECRET_KEY: TEST_SECRET, ...extra, [name]: value });
      expect(lines).toHaveLength(1);
      expect(lines[0]!.startsWith(`${name} `)).toBe(true);
      expect(lines[0]).not.toContain('\n');
    });
  }

  it('rate limits at their bounds are accepted as written', () => {
    const loaded = load({ SECRET_KEY: TEST_SECRET, RATE_LIMIT_DEFAULT: '1000000000/minute', RATE_LIMIT_AUTH: '3/7days' });
    expect(loaded.config.rateLimitDefault).toEqual({ points: 1_000_000_000, durationSeconds: 60 });
    expect(loaded.config.rateLimitAuth).toEqual({ points: 3, durationSeconds: 7 * 86400 });
  });

  it('FIRST_SUPERUSER and its password come as a pair', () => {
    expect(refusal({ SECRET_KEY: TEST_SECRET, FIRST_SUPERUSER: 'admin@example.com' })).toEqual([expect.stringMatching(/^FIRST_SUPERUSER_PASSWORD /)]);
    expect(refusal({ SECRET_KEY: TEST_SECRET, FIRST_SUPERUSER_PASSWORD: 'x'.repeat(20) })).toEqual([expect.stringMatching(/^FIRST_SUPERUSER /)]);
  });

  it('several bad values are several lines, one per variable', () => {
    const lines = refusal({ SECRET_KEY: TEST_SECRET, PORT: 'abc', ACCESS_TOKEN_EXPIRE_MINUTES: '-1', JWT_ALGORITHM: 'none', LOG_LEVEL: 'loud', ENVIRONMENT: 'staging' });
    expect(lines).toHaveLength(5);
    for (const name of ['PORT', 'ACCESS_TOKEN_EXPIRE_MINUTES', 'JWT_ALGORITHM', 'LOG_LEVEL', 'ENVIRONMENT']) {
      expect(lines.filter((l) => l.startsWith(`${name} `)), name).toHaveLength(1);
    }
  });

  it('a refused start creates no development secret', () => {
    const cwd = tempDir();
    refusal({ PORT: 'abc' }, cwd);
    expect(existsSync(join(cwd, 'data', 'secret_key'))).toBe(false);
  });
});

describe('production refusals', () => {
  const PRODUCTION: Env = { ENVIRONMENT: 'production', ALLOWED_ORIGINS: 'https://app.example.com' };

  it('refuses a missing SECRET_KEY', () => {
    const lines = refusal(PRODUCTION);
    expect(lines).toEqual([expect.stringMatching(/^SECRET_KEY /)]);
  });

  for (const [why, key] of [
    ['short', 'tooshort-but-random-9f8e7d'],
    ['changeme', 'changeme'],
    ['a placeholder inside a long value', 'changeme-changeme-changeme-changeme-changeme'],
    ['your-secret-key-here', 'your-secret-key-here'],
    ['the FastAPI template placeholder padded to length', 'your-secret-key-here-0123456789-abcdefghijklmnop'],
    ['40 × "a"', 'a'.repeat(40)],
    ['a repeated word', 'secret'.repeat(8)],
    ['a repeated 16-character run', '0123456789abcdef'.repeat(2)],
    ['a repeated 32-character run', 'Kq8vT2mXp9Lr4sZ7bNc1yHd6fJ3wEa5u'.repeat(2)],
    ['24 random bytes in base64 (32 characters, 192 bits)', randomBytes(24).toString('base64')],
    ['32 random characters of [a-z0-9] (about 165 bits)', Array.from(randomBytes(32), (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('')],
    ['31 random bytes in hex (248 bits)', randomBytes(31).toString('hex')],
    ['the alphabet in order (every character distinct)', 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'],
    ['a passphrase ending in a digit run', 'my-super-secret-key-for-production-use-only-1234567890'],
    ['a long random-looking key with a typed run in it', `${randomBytes(24).toString('base64url')}-qrstuvwxyz`],
    ['the example key of FastAPI\'s JWT tutorial', '09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7'],
  ] as const) {
    it(`refuses a weak SECRET_KEY (${why}) without echoing it`, () => {
      const lines = refusal({ ...PRODUCTION, SECRET_KEY: key });
      expect(lines).toHaveLength(1);
      expect(lines[0]!.startsWith('SECRET_KEY ')).toBe(true);
      expect(lines[0]).not.toContain(key);
    });
  }

  it('accepts keys from the usual generators', () => {
    const keys = [
      randomBytes(48).toString('base64'), // openssl rand -base64 48
      randomBytes(32).toString('hex'), // openssl rand -hex 32
      randomBytes(32).toString('base64url'), // python -c 'import secrets; print(secrets.token_urlsafe(32))'
    ];
    for (const key of keys) {
      const { config, warnings } = load({ ...PRODUCTION, SECRET_KEY: key });
      expect(config.secretKey).toBe(key);
      expect(warnings.join('\n')).not.toContain(key);
    }
  });

  it('refuses "*" in ALLOWED_ORIGINS', () => {
    expect(refusal({ ...PRODUCTION, SECRET_KEY: STRONG, ALLOWED_ORIGINS: '*' })).toEqual([expect.stringMatching(/^ALLOWED_ORIGINS /)]);
  });

  it('refuses plain-http origins other than localhost', () => {
    expect(refusal({ ...PRODUCTION, SECRET_KEY: STRONG, ALLOWED_ORIGINS: 'https://app.example.com,http://app.example.com' }))
      .toEqual([expect.stringMatching(/^ALLOWED_ORIGINS /)]);
    const { config } = load({ ...PRODUCTION, SECRET_KEY: STRONG, ALLOWED_ORIGINS: 'https://app.example.com,http://localhost:3000' });
    expect(config.allowedOrigins).toEqual(['https://app.example.com', 'http://localhost:3000']);
  });

  it('outside production a weak key is a warning, never with the key in it', () => {
    const { config, warnings } = load({ SECRET_KEY: 'changeme' });
    expect(config.secretKey).toBe('changeme');
    expect(warnings.some((w) => w.startsWith('SECRET_KEY '))).toBe(true);
    // The warning describes the problem; it never quotes the key.
    expect(warnings.join('\n')).not.toMatch(/changeme/);
  });
});

describe('secrets never reach a refusal line', () => {
  const PASSWORD = 'Pa55-w0rd-do-not-print';
  const cases: Env[] = [
    { DATABASE_URL: `mysql://app:${PASSWORD}@db.internal/app` },
    { DATABASE_URL: `postgres://app:${PASSWORD}@db.internal:99999/app` },
    { DATABASE_URL: `postgres://app:${PASSWORD}@db internal/app` },
    { REDIS_URL: `http://:${PASSWORD}@cache.internal:6379` },
    { REDIS_URL: `redis://:${PASSWORD}@cache internal` },
    { SMTP_URL: `http://mailer:${PASSWORD}@smtp.example.com` },
    { FIRST_SUPERUSER: 'admin@example.com', FIRST_SUPERUSER_PASSWORD: PASSWORD, PORT: 'abc' },
    { ENVIRONMENT: 'production', SECRET_KEY: `short-${PASSWORD}`.slice(0, 20) },
  ];
  for (const env of cases) {
    it(Object.keys(env).join(', '), () => {
      const cwd = tempDir();
      let error: unknown;
      try {
        load({ SECRET_KEY: TEST_SECRET, ...env }, cwd);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const text = `${(error as ConfigError).message}\n${(error as ConfigError).lines.join('\n')}`;
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(PASSWORD.slice(0, 8));
      expect(text).not.toContain(TEST_SECRET);
    });
  }
});

describe('the development secret', () => {
  it('is generated once in DATA_DIR with mode 0600, reused next time, and warned about once', () => {
    const cwd = tempDir();
    const first = load({}, cwd);
    const file = join(cwd, 'data', 'secret_key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.config.secretKey).toBe(readFileSync(file, 'utf8').trim());
    expect(Buffer.byteLength(first.config.secretKey)).toBeGreaterThanOrEqual(32);
    expect(first.warnings.filter((w) => w.startsWith('SECRET_KEY '))).toHaveLength(1);
    // The warning names the file, never the key.
    expect(first.warnings.join('\n')).not.toContain(first.config.secretKey);

    const second = load({}, cwd);
    expect(second.config.secretKey).toBe(first.config.secretKey);
    expect(second.warnings.filter((w) => w.startsWith('SECRET_KEY '))).toHaveLength(0);
  });

  it('differs between data directories', () => {
    expect(load({}).config.secretKey).not.toBe(load({}).config.secretKey);
  });

  it('is never generated in production', () => {
    const cwd = tempDir();
    refusal({ ENVIRONMENT: 'production' }, cwd);
    expect(existsSync(join(cwd, 'data', 'secret_key'))).toBe(false);
  });

  it('an explicit SECRET_KEY wins over the kept file', () => {
    const cwd = tempDir();
    load({}, cwd);
    expect(load({ SECRET_KEY: TEST_SECRET }, cwd).config.secretKey).toBe(TEST_SECRET);
  });
});

describe('.env beside the process', () => {
  it('is read from cwd, and the real environment wins', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, '.env'), [
      '# comment',
      `SECRET_KEY=${TEST_SECRET}`,
      'PORT=9100',
      'LOG_LEVEL=debug',
      'ALLOWED_ORIGINS="https://a.example.com,https://b.example.com"',
    ].join('\n'));
    const { config } = loadConfig({ DATA_DIR: join(cwd, 'data'), PORT: '9200' }, { cwd });
    expect(config.secretKey).toBe(TEST_SECRET);
    expect(config.port).toBe(9200);
    expect(config.logLevel).toBe('debug');
    expect(config.allowedOrigins).toEqual(['https://a.example.com', 'https://b.example.com']);
  });

  it('a bad value in .env is refused like one in the environment', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, '.env'), `SECRET_KEY=${TEST_SECRET}\nPORT=eighty\n`);
    expect(refusal({}, cwd)).toEqual([expect.stringMatching(/^PORT /)]);
  });

  it('is not read from anywhere but cwd', () => {
    const cwd = tempDir();
    const elsewhere = join(cwd, 'sub');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, '.env'), 'PORT=9300\n');
    expect(load({ SECRET_KEY: TEST_SECRET }, cwd).config.port).toBe(8000);
  });
});
