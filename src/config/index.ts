// The one place that reads the environment: env + .env → a frozen, validated Config.
// Every bad variable is reported on its own line; production refusals live here too.
import { existsSync, readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import {
  ConfigValueError, isLoopbackOrigin, parseEnum, parseInteger, parseOrigin, parseRateLimit,
  parseRedisUrl, parseTrustProxy, parseUrl, type RateLimit, type TrustProxy,
} from './parsers.js';
import { loadOrCreateDevSecret, secretKeyWeakness } from './secret-key.js';
import { readExternalIssuers, type ExternalIssuer } from '../federation/config.js';

export type { RateLimit, TrustProxy } from './parsers.js';

export const JWT_ALGORITHMS = ['HS256', 'EdDSA', 'ES256'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Token issuer when PUBLIC_URL is not set (see Config.tokenIssuer). */
export const DEFAULT_TOKEN_ISSUER = 'gatehouse';

export interface Config {
  readonly environment: 'development' | 'production';
  readonly isProduction: boolean;
  readonly secretKey: string;
  readonly databaseUrl: string;
  readonly redisUrl: string | undefined;
  /** Prefix of every Redis key and channel (several deployments may share one Redis). */
  readonly redisKeyPrefix: string;
  /** Normalised exact origins; `['*']` only outside production. */
  readonly allowedOrigins: readonly string[];
  readonly host: string;
  readonly port: number;
  /**
   * The origin users reach this server at: mail links and the HTMX own-origin check use it. Unset:
   * where the process listens, over http — https in production, which serves nothing else.
   */
  readonly publicUrl: string;
  /** Whether PUBLIC_URL was given (only then do redirects to https use it instead of the Host header). */
  readonly publicUrlSet: boolean;
  /**
   * The `iss` of access tokens: PUBLIC_URL when it is set, else the constant "gatehouse" — never the
   * per-process default, so instances on different ports (one deployment) accept each other's tokens.
   */
  readonly tokenIssuer: string;
  readonly trustProxy: TrustProxy;
  readonly accessTokenExpireMinutes: number;
  readonly refreshTokenExpireDays: number;
  readonly jwtAlgorithm: JwtAlgorithm;
  readonly dataDir: string;
  readonly firstSuperuser: string | undefined;
  readonly firstSuperuserPassword: string | undefined;
  readonly rateLimitDefault: RateLimit;
  readonly rateLimitAuth: RateLimit;
  readonly lockoutThreshold: number;
  readonly lockoutWindowMinutes: number;
  readonly passwordMinLength: number;
  readonly passwordCompositionRules: boolean;
  readonly sessionMaxDays: number;
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  readonly logLevel: LogLevel;
  readonly maxBodyBytes: number;
  /** Trusted external token issuers (EXTERNAL_ISSUERS); empty when none are configured. */
  readonly externalIssuers: readonly ExternalIssuer[];
}

export interface LoadedConfig {
  readonly config: Config;
  /** Things an operator should hear about once at start-up (never containing a secret). */
  readonly warnings: readonly string[];
}

/** Startup refusal: one line per bad variable, each beginning with the variable's name. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly lines: readonly string[]) {
    super(lines.join('\n'));
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** A file-system error in words, without a stack: "ENOTDIR: not a directory". */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code}${e.path ? ` at ${e.path}` : ''}` : String(e?.message ?? err).split('\n')[0]!;
}

/** Reads `.env` in `cwd` (if any) under the real environment: real variables win. */
export function environmentWithDotenv(env: Env, cwd: string): Env {
  const file = join(cwd, '.env');
  if (!existsSync(file)) return env;
  const fromFile = parseDotenv(readFileSync(file));
  return { ...fromFile, ...env };
}

/**
 * The file of a `sqlite:` URL. `sqlite:./data/g.db` and `sqlite:/srv/g.db` are paths as written. The
 * SQLAlchemy form that FastAPI apps carry over reads as it does there: `sqlite:///./app.db` and
 * `sqlite:///app.db` are relative, `sqlite:////srv/app.db` is absolute (the third slash only ends
 * the empty authority).
 */
function sqlitePath(url: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const rest = url.slice('sqlite:'.length);
  if (rest.startsWith('///')) return rest.slice(3);
  return rest.startsWith('//') ? rest.slice(2) : rest;
}

export function loadConfig(rawEnv: Env, options: { cwd?: string } = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = environmentWithDotenv(rawEnv, cwd);
  const problems: string[] = [];
  const warnings: string[] = [];

  /** Read one variable through a parser; a failure becomes a line naming the variable. */
  function read<T>(name: string, fallback: T, parse: (raw: string) => T): T {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    try {
      return parse(raw);
    } catch (err) {
      if (!(err instanceof ConfigValueError)) throw err;
      problems.push(`${name} ${err.message}`);
      return fallback;
    }
  }
  const int = (name: string, fallback: number, min: number, max: number) =>
    read(name, fallback, (raw) => parseInteger(raw, min, max));
  const bool = (name: string, fallback: boolean) =>
    read(name, fallback, (raw) => {
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigValueError(`must be true or false, got "${raw}"`);
    });

  const environment = read('ENVIRONMENT', 'development' as const, (raw) => parseEnum(raw, ['development', 'production'] as const));
  const isProduction = environment === 'production';
  const dataDir = resolve(cwd, env.DATA_DIR || './data');

  const host = read('HOST', '127.0.0.1', (raw) => {
    if (!/^[A-Za-z0-9.:_-]+$/.test(raw)) throw new ConfigValueError(`must be a host name or IP address, got "${raw}"`);
    return raw;
  });
  const port = int('PORT', 8000, 0, 65535);

  const databaseUrl = read('DATABASE_URL', `sqlite:${join(dataDir, 'gatehouse.db')}`, (raw) => {
    if (raw.startsWith('sqlite:')) {
      if (!sqlitePath(raw)) throw new ConfigValueError('must name a file, e.g. sqlite:./data/gatehouse.db');
      return raw;
    }
    if (!/^postgres(ql)?:/.test(raw)) throw new ConfigValueError('must start with sqlite: or postgres:// (or postgresql://)');
    return parseUrl(raw, ['postgres:', 'postgresql:'], false);
  });
  const redisUrl = read<string | undefined>('REDIS_URL', undefined, parseRedisUrl);
  const redisKeyPrefix = read('REDIS_KEY_PREFIX', 'gatehouse:', (raw) => {
    if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(raw)) throw new ConfigValueError('must be 1–64 characters of letters, digits and :_.-');
    return raw;
  });

  const allowedOrigins = read('ALLOWED_ORIGINS', ['http://localhost:3000', 'http://localhost:8000'], (raw) => {
    const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
    if (items.includes('*')) {
      if (isProduction) throw new ConfigValueError('must list exact origins in production; "*" would let any site call the API');
      if (items.length > 1) throw new ConfigValueError('is either "*" or a list of origins, not both');
      return ['*'];
    }
    const origins = items.map(parseOrigin);
    if (isProduction) {
      const plain = origins.filter((o) => o.startsWith('http://') && !isLoopbackOrigin(o));
      if (plain.length > 0) throw new ConfigValueError(`must use https in production; refusing ${plain.join(', ')}`);
    }
    return [...new Set(origins)];
  });

  const listening = `${isProduction ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const publicUrl = read('PUBLIC_URL', listening, (raw) => {
    const origin = parseOrigin(raw.replace(/\/+$/, ''));
    if (isProduction && origin.startsWith('http://') && !isLoopbackOrigin(origin)) {
      throw new ConfigValueError('must use https in production');
    }
    return origin;
  });

  const trustProxy = read<TrustProxy>('TRUST_PROXY', { kind: 'none' }, (raw) => parseTrustProxy(raw));
  const accessTokenExpireMinutes = int('ACCESS_TOKEN_EXPIRE_MINUTES', 15, 1, 24 * 60);
  const refreshTokenExpireDays = int('REFRESH_TOKEN_EXPIRE_DAYS', 7, 1, 365);
  const jwtAlgorithm = read('JWT_ALGORITHM', 'HS256' as JwtAlgorithm, (raw) => parseEnum(raw, JWT_ALGORITHMS));

  const firstSuperuser = read<string | undefined>('FIRST_SUPERUSER', undefined, (raw) => {
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(raw)) throw new ConfigValueError(`must be an email address, got "${raw}"`);
    const username = raw.split('@')[0]!;
    if (!/^[A-Za-z0-9_]{3,50}$/.test(username)) {
      throw new ConfigValueError('must have a local part (the future username) of 3–50 letters, digits or _');
    }
    return raw;
  });
  const firstSuperuserPassword = env.FIRST_SUPERUSER_PASSWORD || undefined;
  // Pair on what was given, not on what parsed: a malformed FIRST_SUPERUSER is already one line.
  const superuserGiven = Boolean(env.FIRST_SUPERUSER);
  if (superuserGiven && !firstSuperuserPassword) problems.push('FIRST_SUPERUSER_PASSWORD must be set when FIRST_SUPERUSER is');
  if (!superuserGiven && firstSuperuserPassword) problems.push('FIRST_SUPERUSER must be set when FIRST_SUPERUSER_PASSWORD is');

  const rateLimitDefault = read('RATE_LIMIT_DEFAULT', parseRateLimit('100/minute'), parseRateLimit);
  const rateLimitAuth = read('RATE_LIMIT_AUTH', parseRateLimit('10/minute'), parseRateLimit);
  const lockoutThreshold = int('LOCKOUT_THRESHOLD', 5, 1, 1000);
  const lockoutWindowMinutes = int('LOCKOUT_WINDOW_MINUTES', 15, 1, 7 * 24 * 60);
  const passwordMinLength = int('PASSWORD_MIN_LENGTH', 8, 8, 128);
  const passwordCompositionRules = bool('PASSWORD_COMPOSITION_RULES', false);
  const sessionMaxDays = int('SESSION_MAX_DAYS', 30, 1, 3650);
  const smtpUrl = read<string | undefined>('SMTP_URL', undefined, (raw) => parseUrl(raw, ['smtp:', 'smtps:']));
  const mailFrom = read('MAIL_FROM', 'Gatehouse <no-reply@gatehouse.local>', (raw) => {
    if (!/@/.test(raw) || /[\r\n]/.test(raw)) throw new ConfigValueError('must be an address like "Name <no-reply@example.com>"');
    return raw;
  });
  const logLevel = read('LOG_LEVEL', 'info' as LogLevel, (raw) => parseEnum(raw.toLowerCase(), LOG_LEVELS));
  const maxBodyBytes = int('MAX_BODY_BYTES', 1024 * 1024, 1024, 100 * 1024 * 1024);
  const publicUrlSet = Boolean(env.PUBLIC_URL);
  const tokenIssuer = publicUrlSet ? publicUrl : DEFAULT_TOKEN_ISSUER;
  const externalIssuers = readExternalIssuers(env, { isProduction, ownIssuer: tokenIssuer }, problems);

  if (isProduction && !publicUrlSet) {
    warnings.push(`PUBLIC_URL is not set: password-reset mails link to ${publicUrl}; set it to the https origin users reach`);
  }
  if (isProduction && !env.ALLOWED_ORIGINS) {
    warnings.push(`ALLOWED_ORIGINS is not set: CORS allows the development defaults (${allowedOrigins.join(', ')}); set it to the origins of your front ends`);
  }
  if (refreshTokenExpireDays > sessionMaxDays) {
    warnings.push(`REFRESH_TOKEN_EXPIRE_DAYS (${refreshTokenExpireDays}) exceeds SESSION_MAX_DAYS (${sessionMaxDays}); sessions still end at SESSION_MAX_DAYS`);
  }

  let secretKey = env.SECRET_KEY ?? '';
  if (secretKey !== '') {
    const weakness = secretKeyWeakness(secretKey);
    if (weakness && isProduction) problems.push(`SECRET_KEY ${weakness}`);
    else if (weakness) warnings.push(`SECRET_KEY ${weakness} (allowed outside production only)`);
  } else if (isProduction) {
    problems.push('SECRET_KEY must be set in production (at least 32 random bytes, e.g. `openssl rand -base64 48`)');
  } else if (problems.length === 0) {
    let dev: { key: string; created: boolean };
    try {
      dev = loadOrCreateDevSecret(dataDir);
    } catch (err) {
      throw new ConfigError([`DATA_DIR cannot hold the development SECRET_KEY (${fsReason(err)}); set DATA_DIR to a writable directory, or set SECRET_KEY`]);
    }
    secretKey = dev.key;
    if (dev.created) warnings.push(`SECRET_KEY is not set: generated a development key in ${join(dataDir, 'secret_key')} (set SECRET_KEY in production)`);
  }

  if (problems.length > 0) throw new ConfigError(problems);

  const config: Config = {
    environment, isProduction, secretKey, databaseUrl, redisUrl, redisKeyPrefix, allowedOrigins: Object.freeze(allowedOrigins),
    host, port, publicUrl, publicUrlSet, tokenIssuer, trustProxy, accessTokenExpireMinutes, refreshTokenExpireDays, jwtAlgorithm, dataDir,
    firstSuperuser, firstSuperuserPassword, rateLimitDefault, rateLimitAuth, lockoutThreshold, lockoutWindowMinutes,
    passwordMinLength, passwordCompositionRules, sessionMaxDays, smtpUrl, mailFrom, logLevel, maxBodyBytes,
    externalIssuers: Object.freeze(externalIssuers),
  };
  return { config: Object.freeze(config), warnings: Object.freeze(warnings) };
}

/** The SQLite file path of a `sqlite:` URL, or undefined for any other database. */
export function sqliteFileOf(databaseUrl: string): string | undefined {
  return sqlitePath(databaseUrl);
}
