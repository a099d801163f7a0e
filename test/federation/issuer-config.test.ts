// EXTERNAL_ISSUERS and EXTERNAL_ISSUER_<NAME>_*: a good configuration parses into frozen issuers;
// each bad variable stops startup with one line that starts with the variable's name.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from '../../src/config/index.js';
import { TEST_SECRET, tempDir } from '../helpers/config.js';

const JWKS = {
  EXTERNAL_ISSUERS: 'corp',
  EXTERNAL_ISSUER_CORP_ISSUER: 'https://login.corp.example',
  EXTERNAL_ISSUER_CORP_AUDIENCE: 'gatehouse-api',
  EXTERNAL_ISSUER_CORP_JWKS_URL: 'https://login.corp.example/.well-known/jwks.json',
  EXTERNAL_ISSUER_CORP_ALGORITHMS: 'RS256, ES256',
};
const INTROSPECTION = {
  EXTERNAL_ISSUERS: 'corp,legacy',
  EXTERNAL_ISSUER_LEGACY_ISSUER: 'https://sso.legacy.example',
  EXTERNAL_ISSUER_LEGACY_AUDIENCE: 'gatehouse',
  EXTERNAL_ISSUER_LEGACY_INTROSPECTION_URL: 'https://sso.legacy.example/oauth2/introspect',
  EXTERNAL_ISSUER_LEGACY_CLIENT_ID: 'gatehouse',
  EXTERNAL_ISSUER_LEGACY_CLIENT_SECRET: 'an-introspection-secret',
  EXTERNAL_ISSUER_LEGACY_OPAQUE_TOKENS: 'true',
  EXTERNAL_ISSUER_LEGACY_LINK_BY_EMAIL: 'yes',
};

function load(env: Env) {
  return loadConfig({ SECRET_KEY: TEST_SECRET, ...env }, { cwd: tempDir() }).config;
}

function refusal(env: Env): readonly string[] {
  try {
    load(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.lines;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('external issuers', () => {
  it('are off by default', () => {
    expect(load({}).externalIssuers).toEqual([]);
  });

  it('parse, JWKS and introspection, with defaults for the shared settings', () => {
    const config = load({ ...JWKS, ...INTROSPECTION, EXTERNAL_ISSUERS_TIMEOUT_MS: '1500' });
    expect(config.externalIssuers).toEqual([
      {
        name: 'corp', kind: 'jwks', issuer: 'https://login.corp.example', audience: 'gatehouse-api',
        jwksUrl: 'https://login.corp.example/.well-known/jwks.json', algorithms: ['RS256', 'ES256'],
        linkByEmail: false, allowAdmin: false, timeoutMs: 1500, cacheMaxAgeMs: 300_000, cooldownMs: 30_000,
      },
      {
        name: 'legacy', kind: 'introspection', issuer: 'https://sso.legacy.example', audience: 'gatehouse',
        introspectionUrl: 'https://sso.legacy.example/oauth2/introspect', clientId: 'gatehouse', clientSecret: 'an-introspection-secret',
        opaqueTokens: true, linkByEmail: true, allowAdmin: false, timeoutMs: 1500,
      },
    ]);
    expect(Object.isFrozen(config.externalIssuers)).toBe(true);
    expect(Object.isFrozen(config.externalIssuers[0])).toBe(true);
  });

  const cases: [string, Env, string][] = [
    ['no issuer', { ...JWKS, EXTERNAL_ISSUER_CORP_ISSUER: undefined }, 'EXTERNAL_ISSUER_CORP_ISSUER must be set'],
    ['a bad name', { EXTERNAL_ISSUERS: 'my-idp' }, 'EXTERNAL_ISSUERS has "my-idp"'],
    ['a name twice', { ...JWKS, EXTERNAL_ISSUERS: 'corp,CORP' }, 'EXTERNAL_ISSUERS names "CORP" twice'],
    ['no audience', { ...JWKS, EXTERNAL_ISSUER_CORP_AUDIENCE: undefined }, 'EXTERNAL_ISSUER_CORP_AUDIENCE must be set'],
    ['an issuer that is no URL', { ...JWKS, EXTERNAL_ISSUER_CORP_ISSUER: 'corp' }, 'EXTERNAL_ISSUER_CORP_ISSUER must be an http(s) URL'],
    ['neither JWKS nor introspection', { ...JWKS, EXTERNAL_ISSUER_CORP_JWKS_URL: undefined, EXTERNAL_ISSUER_CORP_ALGORITHMS: undefined }, 'EXTERNAL_ISSUER_CORP_JWKS_URL or EXTERNAL_ISSUER_CORP_INTROSPECTION_URL must be set'],
    ['both JWKS and introspection', { ...JWKS, EXTERNAL_ISSUER_CORP_INTROSPECTION_URL: 'https://login.corp.example/introspect' }, 'EXTERNAL_ISSUER_CORP_JWKS_URL or EXTERNAL_ISSUER_CORP_INTROSPECTION_URL must be set, exactly one'],
    ['JWKS without pinned algorithms', { ...JWKS, EXTERNAL_ISSUER_CORP_ALGORITHMS: undefined }, 'EXTERNAL_ISSUER_CORP_ALGORITHMS must be set'],
    ['HS256 pinned', { ...JWKS, EXTERNAL_ISSUER_CORP_ALGORITHMS: 'HS256' }, 'EXTERNAL_ISSUER_CORP_ALGORITHMS has "HS256"'],
    ['none pinned', { ...JWKS, EXTERNAL_ISSUER_CORP_ALGORITHMS: 'none' }, 'EXTERNAL_ISSUER_CORP_ALGORITHMS has "none"'],
    ['a typo in a setting', { ...JWKS, EXTERNAL_ISSUER_CORP_AUDEINCE: 'x' }, 'EXTERNAL_ISSUER_CORP_AUDEINCE is not a known setting'],
    ['settings of an unlisted name', { ...JWKS, EXTERNAL_ISSUER_OTHER_ISSUER: 'https://other.example' }, 'EXTERNAL_ISSUER_OTHER_ISSUER is set but "other" is not listed'],
    ['Gatehouse\'s own URL', { ...JWKS, PUBLIC_URL: 'https://login.corp.example' }, 'EXTERNAL_ISSUER_CORP_ISSUER must not be Gatehouse\'s own token issuer (PUBLIC_URL)'],
    ['a client id without secret', { ...INTROSPECTION, ...JWKS, EXTERNAL_ISSUERS: 'corp,legacy', EXTERNAL_ISSUER_LEGACY_CLIENT_SECRET: undefined }, 'EXTERNAL_ISSUER_LEGACY_CLIENT_ID and EXTERNAL_ISSUER_LEGACY_CLIENT_SECRET must be set together'],
    ['a bad flag', { ...JWKS, EXTERNAL_ISSUER_CORP_LINK_BY_EMAIL: 'maybe' }, 'EXTERNAL_ISSUER_CORP_LINK_BY_EMAIL must be true or false'],
    ['a timeout out of range', { ...JWKS, EXTERNAL_ISSUERS_TIMEOUT_MS: '60000' }, 'EXTERNAL_ISSUERS_TIMEOUT_MS must be between 100 and 10000'],
    ['the same issuer twice', { ...JWKS, ...INTROSPECTION, EXTERNAL_ISSUER_LEGACY_ISSUER: 'https://login.corp.example' }, 'EXTERNAL_ISSUER_LEGACY_ISSUER repeats the issuer'],
    ['http in production', { ...JWKS, ENVIRONMENT: 'production', ALLOWED_ORIGINS: 'https://app.example', EXTERNAL_ISSUER_CORP_JWKS_URL: 'http://login.corp.example/jwks' }, 'EXTERNAL_ISSUER_CORP_JWKS_URL must use https in production'],
  ];
  for (const [what, env, line] of cases) {
    it(`refuse ${what} in one line naming the variable`, () => {
      const lines = refusal(env);
      const ours = lines.filter((l) => l.startsWith('EXTERNAL_ISSUER'));
      expect(ours, lines.join('\n')).toHaveLength(1);
      expect(ours[0]).toContain(line);
    });
  }

  it('a listed name with no settings at all gets a line for each missing one', () => {
    expect(refusal({ EXTERNAL_ISSUERS: 'ghost' })).toEqual([
      'EXTERNAL_ISSUER_GHOST_ISSUER must be set (the exact "iss" of its tokens)',
      'EXTERNAL_ISSUER_GHOST_AUDIENCE must be set (the "aud" its tokens carry for this server)',
      'EXTERNAL_ISSUER_GHOST_JWKS_URL or EXTERNAL_ISSUER_GHOST_INTROSPECTION_URL must be set, exactly one of them',
    ]);
  });

  it('two opaque-token issuers are refused', () => {
    const lines = refusal({
      ...INTROSPECTION, EXTERNAL_ISSUERS: 'legacy,other',
      EXTERNAL_ISSUER_OTHER_ISSUER: 'https://other.example', EXTERNAL_ISSUER_OTHER_AUDIENCE: 'gatehouse',
      EXTERNAL_ISSUER_OTHER_INTROSPECTION_URL: 'https://other.example/introspect', EXTERNAL_ISSUER_OTHER_OPAQUE_TOKENS: 'true',
    });
    expect(lines).toEqual(['EXTERNAL_ISSUERS: OPAQUE_TOKENS may be true for one issuer only (an opaque token names no issuer to choose by)']);
  });
});
