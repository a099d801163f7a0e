// Attacks on access tokens (RFC 8725, JWT BCP), for each JWT_ALGORITHM: alg none, algorithm switch
// (the public key as an HMAC secret, PEM and JWK), tampered claims, foreign keys, keys offered in the
// header (jku/jwk/x5u/x5c, never fetched), claim checks (exp, aud, iss, type, sub), malformed tokens;
// and interoperability: tokens verify with jose, and a jose-made HS256 token with SECRET_KEY is accepted.
import { createHmac, createPublicKey, generateKeyPairSync, KeyObject, randomBytes, sign as cryptoSign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connect, type AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JwtAlgorithm } from '../../src/config/index.js';
import type { TestApp } from '../helpers/app.js';
import { authApp, bearer, decodeJwt, expectDeadRefresh, expectInvalidToken, form, me, refresh, register, registerAdmin, tokenFor } from '../helpers/auth.js';
import { TEST_SECRET } from '../helpers/config.js';

// Without PUBLIC_URL the tokens' issuer is the constant "gatehouse" (config.tokenIssuer).
const ISSUER = 'gatehouse';
type Claims = Record<string, unknown>;
type SigningKey = Buffer | KeyObject;

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Signs exactly the header and payload given, with no library in between to fix them up. */
function signJwt(header: Claims, payload: unknown, key: SigningKey | null): string {
  const input = `${b64(header)}.${b64(payload)}`;
  if (key === null) return `${input}.`;
  const alg = header.alg;
  let signature: Buffer;
  if (Buffer.isBuffer(key)) {
    signature = createHmac(alg === 'HS512' ? 'sha512' : alg === 'HS384' ? 'sha384' : 'sha256', key).update(input).digest();
  } else if (key.asymmetricKeyType === 'ed25519') {
    signature = cryptoSign(null, Buffer.from(input), key);
  } else {
    signature = cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  }
  return `${input}.${signature.toString('base64url')}`;
}

/** A key pair of the kind the algorithm uses (an attacker's, or a stranger's). */
function strangerKey(alg: JwtAlgorithm): { privateKey: SigningKey; publicJwk: JWK; alg: string } {
  if (alg === 'ES256') {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { privateKey: pair.privateKey, publicJwk: pair.publicKey.export({ format: 'jwk' }) as JWK, alg: 'ES256' };
  }
  const pair = generateKeyPairSync('ed25519');
  return { privateKey: pair.privateKey, publicJwk: pair.publicKey.export({ format: 'jwk' }) as JWK, alg: 'EdDSA' };
}

for (const algorithm of ['HS256', 'EdDSA', 'ES256'] as const) {
  describe(`access-token attacks with JWT_ALGORITHM=${algorithm}`, () => {
    let t: TestApp;
    let userId: number;
    let sid: string;
    let kid: string | undefined;
    /** The server's own signing key (for tokens that are signed right but claim the wrong things). */
    let realKey: SigningKey;
    let jwks: { keys: JWK[] };
    let fetched = 0;
    let attackerServer: Server;
    let attackerUrl: string;
    const attacker = strangerKey(algorithm === 'HS256' ? 'EdDSA' : algorithm);

    beforeAll(async () => {
      t = await authApp({ env: { JWT_ALGORITHM: algorithm } });
      userId = (await register(t.app, { username: 'alice' })).id;
      await registerAdmin(t.app, 'the_admin');
      const pair = await tokenFor(t.app, 'alice');
      sid = String(decodeJwt(pair.access_token).payload.sid);
      kid = decodeJwt(pair.access_token).header.kid as string | undefined;
      const signing = t.app.gatehouse.keyRing.signingKey();
      realKey = signing.key.type === 'secret' ? signing.key.export() : signing.key;
      jwks = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
      // Where a token's jku / x5u point: it must never be asked for anything.
      attackerServer = createServer((_req, res) => {
        fetched += 1;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [{ ...attacker.publicJwk, kid: 'attacker', alg: attacker.alg }] }));
      });
      await new Promise<void>((resolve) => attackerServer.listen(0, '127.0.0.1', resolve));
      attackerUrl = `http://127.0.0.1:${(attackerServer.address() as AddressInfo).port}/jwks.json`;
    });
    afterAll(async () => {
      await new Promise((resolve) => attackerServer?.close(resolve));
      await t?.close();
    });

    const claims = (overrides: Claims = {}): Claims => {
      const now = Math.floor(Date.now() / 1000);
      return {
        sub: String(userId), sid, jti: randomBytes(8).toString('hex'), iat: now, exp: now + 600, iss: ISSUER,
        aud: 'gatehouse', type: 'access', roles: ['user'], scope: 'profile:read profile:write', ver: 1, ...overrides,
      };
    };
    const realHeader = (extra: Claims = {}): Claims => ({ alg: algorithm, typ: 'JWT', ...(kid ? { kid } : {}), ...extra });
    const withoutClaim = (name: string): Claims => Object.fromEntries(Object.entries(claims()).filter(([k]) => k !== name));
    const adminRoute = (token: string) => t.app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(token) });

    it('control: a token signed with the real key and the right claims is accepted', async () => {
      const res = await me(t.app, signJwt(realHeader(), claims(), realKey));
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().id).toBe(userId);
    });

    it('the JWKS publishes the kid tokens carry (EdDSA/ES256), public halves only; nothing for HS256', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
      expect(res.statusCode).toBe(200);
      if (algorithm === 'HS256') {
        expect(kid).toBeUndefined();
        expect(res.json()).toEqual({ keys: [] });
        return;
      }
      expect(jwks.keys.map((k) => k.kid)).toContain(kid);
      for (const key of jwks.keys) {
        expect(key).toMatchObject(algorithm === 'EdDSA' ? { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' } : { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
        expect(key).not.toHaveProperty('d');
      }
      expect(res.body).not.toContain(TEST_SECRET);
      // The private halves are kept encrypted at rest (AES-GCM under a key derived from SECRET_KEY).
      const rows = await t.storage.handle.db.selectFrom('signing_keys').select(['kid', 'private_jwk']).execute();
      expect(rows.map((r) => r.kid)).toContain(kid);
      for (const row of rows) {
        expect(row.private_jwk).toMatch(/^v1\./);
        expect(row.private_jwk).not.toMatch(/"d"|"kty"/);
      }
    });

    it('interoperability: a resource server verifies Gatehouse tokens with jose', async () => {
      const { access_token } = await tokenFor(t.app, 'alice');
      const key = algorithm === 'HS256' ? new TextEncoder().encode(TEST_SECRET) : createLocalJWKSet(jwks);
      const verified = await jwtVerify(access_token, key as never, { issuer: ISSUER, audience: 'gatehouse', algorithms: [algorithm] });
      expect(verified.payload).toMatchObject({ sub: String(userId), type: 'access' });
    });

    if (algorithm === 'HS256') {
      it('interoperability: an HS256 token made by jose with SECRET_KEY and the contract\'s claims is accepted', async () => {
        const token = await new SignJWT({ sid: 'issued-elsewhere', type: 'access', roles: ['user'], scope: 'profile:read' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(String(userId)).setJti(randomBytes(8).toString('hex'))
          .setIssuedAt().setExpirationTime('10m').setIssuer(ISSUER).setAudience('gatehouse')
          .sign(new TextEncoder().encode(TEST_SECRET));
        const res = await me(t.app, token);
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json().id).toBe(userId);
      });
    }

    it('alg "none" (in any spelling) is refused', async () => {
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        expectInvalidToken(await me(t.app, signJwt(realHeader({ alg }), claims(), null)));
        // Some libraries accept "none" with a junk signature too.
        expectInvalidToken(await me(t.app, `${signJwt(realHeader({ alg }), claims(), null)}c2ln`));
      }
    });

    it('a stripped or emptied signature is refused', async () => {
      const token = signJwt(realHeader(), claims(), realKey);
      expectInvalidToken(await me(t.app, `${token.slice(0, token.lastIndexOf('.'))}.`));
      expectInvalidToken(await me(t.app, token.slice(0, token.lastIndexOf('.'))));
      expectInvalidToken(await me(t.app, `${token.slice(0, -4)}AAAA`));
    });

    it('tampered claims (role → admin, another sub) break the signature', async () => {
      const { access_token } = await tokenFor(t.app, 'alice');
      const [h, , s] = access_token.split('.');
      const forged = { ...decodeJwt(access_token).payload, roles: ['admin'], scope: 'profile:read profile:write admin' };
      const tampered = `${h}.${b64(forged)}.${s}`;
      expectInvalidToken(await adminRoute(tampered));
      expectInvalidToken(await me(t.app, tampered));
      const otherSub = `${h}.${b64({ ...decodeJwt(access_token).payload, sub: String(userId + 1) })}.${s}`;
      expectInvalidToken(await me(t.app, otherSub));
    });

    it('a foreign key is refused: another secret, another key pair', async () => {
      expectInvalidToken(await me(t.app, signJwt({ alg: 'HS256', typ: 'JWT' }, claims(), Buffer.from('another-service-secret-that-is-long-enough'))));
      const stranger = strangerKey(algorithm === 'ES256' ? 'ES256' : 'EdDSA');
      expectInvalidToken(await me(t.app, signJwt(realHeader({ alg: stranger.alg }), claims(), stranger.privateKey)));
      expectInvalidToken(await adminRoute(signJwt(realHeader({ alg: stranger.alg }), claims({ roles: ['admin'], scope: 'admin' }), stranger.privateKey)));
    });

    it('only the configured algorithm is accepted, even with a key we hold', async () => {
      const secret = Buffer.from(TEST_SECRET, 'utf8');
      for (const alg of ['HS256', 'HS384', 'HS512']) {
        if (alg === algorithm) continue;
        expectInvalidToken(await me(t.app, signJwt(realHeader({ alg }), claims(), secret)));
      }
      if (algorithm === 'HS256') {
        const stranger = strangerKey('EdDSA');
        expectInvalidToken(await me(t.app, signJwt({ alg: 'EdDSA', typ: 'JWT' }, claims(), stranger.privateKey)));
      }
    });

    if (algorithm !== 'HS256') {
      it('algorithm switch: HS256 signed with the published public key as the HMAC secret (PEM, JWK, raw) is refused', async () => {
        const published = jwks.keys.find((k) => k.kid === kid)!;
        const publicKey = createPublicKey({ key: published as never, format: 'jwk' });
        const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
        const secrets = [
          pem, pem.trim(), JSON.stringify(published), JSON.stringify(publicKey.export({ format: 'jwk' })),
          publicKey.export({ type: 'spki', format: 'der' }), Buffer.from(String(published.x), 'base64url'),
        ];
        for (const secret of secrets) {
          const key = Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
          for (const header of [realHeader({ alg: 'HS256' }), { alg: 'HS256', typ: 'JWT' }]) {
            expectInvalidToken(await me(t.app, signJwt(header, claims(), key)));
            expectInvalidToken(await adminRoute(signJwt(header, claims({ roles: ['admin'], scope: 'admin' }), key)));
          }
        }
      });

      it('the HS256 SECRET_KEY does not sign tokens when a key pair is configured', async () => {
        expectInvalidToken(await me(t.app, signJwt({ alg: 'HS256', typ: 'JWT' }, claims(), Buffer.from(TEST_SECRET, 'utf8'))));
      });

      it('an unknown kid, or none, is refused', async () => {
        expectInvalidToken(await me(t.app, signJwt({ alg: algorithm, typ: 'JWT', kid: 'no-such-key' }, claims(), realKey)));
        expectInvalidToken(await me(t.app, signJwt({ alg: algorithm, typ: 'JWT' }, claims(), realKey)));
        expectInvalidToken(await me(t.app, signJwt({ alg: algorithm, typ: 'JWT', kid: 42 }, claims(), realKey)));
      });
    }

    it('keys offered in the header (jwk, jku, x5u, x5c) are never trusted nor fetched', async () => {
      const attackerJwk = { ...attacker.publicJwk, kid: 'attacker', alg: attacker.alg };
      const selfSigned = randomBytes(300).toString('base64');
      const headers: Claims[] = [
        { jwk: attackerJwk }, { jku: attackerUrl }, { x5u: attackerUrl }, { x5c: [selfSigned] },
        { jwk: attackerJwk, jku: attackerUrl, x5u: attackerUrl, x5c: [selfSigned] },
      ];
      for (const extra of headers) {
        for (const header of [{ alg: attacker.alg, typ: 'JWT', kid: 'attacker', ...extra }, { ...realHeader({ alg: attacker.alg }), ...extra }]) {
          const forged = signJwt(header, claims({ roles: ['admin'], scope: 'profile:read profile:write admin' }), attacker.privateKey);
          expectInvalidToken(await me(t.app, forged));
          expectInvalidToken(await adminRoute(forged));
        }
      }
      expect(fetched).toBe(0);
    });

    it('a missing exp, a past exp, or a lifetime longer than configured is refused', async () => {
      const now = Math.floor(Date.now() / 1000);
      expectInvalidToken(await me(t.app, signJwt(realHeader(), withoutClaim('exp'), realKey)));
      expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ exp: now - 1, iat: now - 600 }), realKey)));
      expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ exp: now - 86_400 * 365, iat: now - 86_400 * 366 }), realKey)));
      expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ exp: now + 86_400 * 365 }), realKey)));
      expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ exp: String(now + 600) }), realKey)));
    });

    it('a token issued in the future, or not valid before a later nbf, is refused', async () => {
      const now = Math.floor(Date.now() / 1000);
      expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ iat: now + 3600, exp: now + 3600 + 600 }), realKey)));
      expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ nbf: now + 300 }), realKey)));
      expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ nbf: 'soon' }), realKey)));
      expect((await me(t.app, signJwt(realHeader(), claims({ nbf: now - 5 }), realKey))).statusCode).toBe(200);
    });

    it('a wrong or missing aud or iss is refused', async () => {
      for (const aud of ['another-api', ['another-api'], '', 'Gatehouse']) {
        expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ aud }), realKey)));
      }
      expectInvalidToken(await me(t.app, signJwt(realHeader(), withoutClaim('aud'), realKey)));
      for (const iss of ['https://evil.example', 'http://127.0.0.1:8001', `${ISSUER}/`, '']) {
        expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ iss }), realKey)));
      }
      expectInvalidToken(await me(t.app, signJwt(realHeader(), withoutClaim('iss'), realKey)));
    });

    it('a token whose type is not "access" (a refresh JWT, an ID token) is refused', async () => {
      for (const type of ['refresh', 'id', 'Access', '']) {
        expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ type }), realKey)));
      }
      expectInvalidToken(await me(t.app, signJwt(realHeader(), withoutClaim('type'), realKey)));
    });

    it('a token without sid or jti, or with a subject that is not a user id, is refused', async () => {
      expectInvalidToken(await me(t.app, signJwt(realHeader(), withoutClaim('sid'), realKey)));
      expectInvalidToken(await me(t.app, signJwt(realHeader(), withoutClaim('jti'), realKey)));
      for (const sub of ['alice', String(userId) + ' ', '-1', '1e3', '', `0${userId}`, '0']) {
        expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ sub }), realKey)));
      }
    });

    it('a token whose authorisation version is not a non-negative integer is refused', async () => {
      for (const ver of ['x', -1, 1.5, null, '1']) {
        expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ ver }), realKey)), JSON.stringify(ver));
      }
      const fine = await me(t.app, signJwt(realHeader(), claims({ ver: 1 }), realKey));
      expect(fine.statusCode).toBe(200);
    });

    it('a token of a deleted user is refused', async () => {
      const { id } = await register(t.app, { username: 'gone_soon' });
      const { access_token } = await tokenFor(t.app, 'gone_soon');
      await t.storage.handle.db.deleteFrom('users').where('id', '=', id).execute();
      expectInvalidToken(await me(t.app, access_token));
      expectInvalidToken(await me(t.app, signJwt(realHeader(), claims({ sub: '987654321' }), realKey)));
    });

    it('an access token, however long (an admin\'s, with a kid), is never a refresh token', async () => {
      for (const pair of [await tokenFor(t.app, 'the_admin'), await tokenFor(t.app, 'alice')]) {
        expectDeadRefresh(await refresh(t.app, pair.access_token));
        expectDeadRefresh(await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'refresh_token', refresh_token: pair.access_token }) }));
        expectDeadRefresh(await refresh(t.app, `${pair.access_token}.${pair.access_token}`));
        expect((await refresh(t.app, pair.refresh_token)).statusCode).toBe(200);
      }
    });

    it('header kids cost nothing to remember: 300 distinct ones do not grow the heap', async () => {
      // Each verifier holds a 10 000-entry cache (~200 KB); one per attacker-chosen kid would be a memory DoS.
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const valid = signJwt(realHeader(), claims(), realKey);
      expect((await me(t.app, valid)).statusCode).toBe(200);
      gc();
      const before = process.memoryUsage();
      for (let i = 0; i < 300; i += 1) {
        const res = await me(t.app, signJwt(realHeader({ kid: `kid-${i}-${randomBytes(4).toString('hex')}` }), claims(), realKey));
        expect(res.statusCode).toBe(algorithm === 'HS256' ? 200 : 401);
      }
      gc();
      const after = process.memoryUsage();
      const grownMb = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / 1e6;
      expect(grownMb).toBeLessThan(20);
    });

    it('malformed tokens are a 401, never a 5xx', async () => {
      const token = signJwt(realHeader(), claims(), realKey);
      const garbage = [
        'a.b', 'a.b.c.d.e', `${token}.extra`, '...', '%%%.%%%.%%%', `${b64('not json')}.${b64(claims())}.sig`,
        `${b64('[]')}.${b64(claims())}.sig`, `${b64('null')}.${b64('null')}.sig`, `${b64('"str"')}.${b64(claims())}.sig`,
        `${b64(realHeader())}.${b64('"str"')}.sig`, `${b64(realHeader())}.${b64('null')}.sig`, `${b64(realHeader())}.${b64('[1]')}.sig`,
        'x'.repeat(10_000), `${token} ${token}`, token.toLowerCase(),
      ];
      for (const bad of garbage) expectInvalidToken(await me(t.app, bad), bad.slice(0, 80));
      // Signed right, but the payload is not a claims object.
      for (const payload of [null, [], 'claims', 42, [claims()]]) {
        expectInvalidToken(await me(t.app, signJwt(realHeader(), payload, realKey)), JSON.stringify(payload));
      }
      const empty = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization: 'Bearer ' } });
      expect(empty.statusCode).toBe(401);
      expect(empty.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    it('one token, one spelling: a segment whose spare low bits are changed is refused (the real token still works)', async () => {
      const token = (await tokenFor(t.app, 'alice')).access_token;
      expect((await me(t.app, token)).statusCode).toBe(200);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const parts = token.split('.');
      let respelled = 0;
      for (const [index, segment] of parts.entries()) {
        const last = alphabet.indexOf(segment.at(-1)!);
        // A neighbour that decodes to the same bytes (only the unused bits differ), if this length has any.
        const twin = [last ^ 1, last ^ 2, last ^ 3].map((i) => segment.slice(0, -1) + alphabet[i]).find((s) => s !== segment && Buffer.from(s, 'base64url').equals(Buffer.from(segment, 'base64url')));
        if (!twin) continue;
        respelled += 1;
        const other = parts.map((p, i) => (i === index ? twin : p)).join('.');
        expectInvalidToken(await me(t.app, other), `segment ${index}`);
      }
      expect(respelled).toBeGreaterThan(0);
    });
  });
}

describe('a bearer token given in a form the server will not guess at', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await authApp();
    await register(t.app, { username: 'carol' });
    await register(t.app, { username: 'dave' });
  });
  afterAll(() => t?.close());

  it('a tab or other whitespace instead of the one space is a token given and refused: invalid_token, not "Not authenticated"', async () => {
    const token = (await tokenFor(t.app, 'carol')).access_token;
    for (const authorization of [`Bearer\t${token}`, `Bearer  ${token}`, `Bearer ${token.slice(0, 20)} ${token.slice(20)}`]) {
      expectInvalidToken(await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization } }), JSON.stringify(authorization.slice(0, 12)));
    }
    // Another scheme, or the scheme alone, is no bearer token at all.
    for (const authorization of ['Basic Y2Fyb2w6eA==', 'Bearer']) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization } });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
  });

  it('two Authorization headers (two users\' tokens) are refused, not the first one believed; so are two access cookies', async () => {
    const carol = (await tokenFor(t.app, 'carol')).access_token;
    const dave = (await tokenFor(t.app, 'dave')).access_token;
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    const exchange = (headers: string) => new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(`GET /api/v1/users/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n`));
      let data = '';
      socket.on('data', (chunk) => { data += chunk; });
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    expect(await exchange(`Authorization: Bearer ${carol}\r\n`)).toMatch(/^HTTP\/1\.1 200 /);
    for (const headers of [`Authorization: Bearer ${carol}\r\nAuthorization: Bearer ${dave}\r\n`, `Authorization: Bearer ${carol}\r\nauthorization: Bearer ${carol}\r\n`]) {
      const reply = await exchange(headers);
      expect(reply).toMatch(/^HTTP\/1\.1 401 /);
      expect(reply.toLowerCase()).toContain('www-authenticate: bearer error="invalid_token"');
    }
    const cookies = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { cookie: `access_token=${carol}; access_token=${dave}` } });
    expectInvalidToken(cookies);
    const single = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { cookie: `x_access_token=${dave}; access_token=${carol}` } });
    expect(single.statusCode).toBe(200);
    // The refresh cookie too: two of them refresh nothing.
    const refreshes = [(await tokenFor(t.app, 'carol')).refresh_token, (await tokenFor(t.app, 'dave')).refresh_token];
    const twice = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: { cookie: refreshes.map((r) => `refresh_token=${r}`).join('; ') } });
    expect(twice.statusCode).toBe(401);
    expect(twice.body).not.toContain('access_token');
  });
});
