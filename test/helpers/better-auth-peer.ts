// A real external identity provider for federation tests: a better-auth server (email + password,
// its `jwt` plugin signing EdDSA access tokens, `bearer` sessions) on SQLite in a temp dir, served over
// HTTP on a loopback port. Beside better-auth's own routes it serves an RFC 7662 introspection
// endpoint that asks better-auth whether a session token is live. Stop it to make the issuer vanish.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import { bearer, jwt } from 'better-auth/plugins';
import { tempDir } from './config.js';

export interface PeerOptions {
  /** The `aud` its access tokens carry (default "gatehouse-api"). */
  readonly audience?: string;
  /** HTTP Basic credentials the introspection endpoint demands. */
  readonly introspectionClient?: { readonly id: string; readonly secret: string };
}

export interface PeerUser {
  readonly id: string;
  readonly email: string;
  /** better-auth's opaque session token (what the bearer plugin accepts). */
  readonly sessionToken: string;
}

export interface BetterAuthPeer {
  /** The issuer: better-auth's base URL, which its jwt plugin puts in `iss`. */
  readonly url: string;
  readonly audience: string;
  readonly jwksUrl: string;
  readonly introspectionUrl: string;
  /** Requests the introspection endpoint has answered. */
  readonly introspections: () => number;
  /** Requests for the JWKS it has served. */
  readonly jwksFetches: () => number;
  signUp(email: string, name?: string): Promise<PeerUser>;
  /** An access JWT for the user's session, from better-auth's own GET /api/auth/token. */
  accessToken(user: PeerUser): Promise<string>;
  /** Marks the user's email verified, as better-auth's email verification flow would. */
  verifyEmail(user: PeerUser): Promise<void>;
  /** Signs arbitrary claims with the peer's current key (better-auth's server-only signJWT). */
  sign(payload: Record<string, unknown>): Promise<string>;
  /** Key rotation gone wrong for its old tokens: every key is deleted; the next token mints a new one. */
  replaceKeys(): Promise<void>;
  signOut(user: PeerUser): Promise<void>;
  /** Stops listening and drops every connection: the issuer is unreachable from now on. */
  stop(): Promise<void>;
}

export async function startBetterAuthPeer(options: PeerOptions = {}): Promise<BetterAuthPeer> {
  const audience = options.audience ?? 'gatehouse-api';
  const dir = tempDir('better-auth-peer-');
  const db = new Database(join(dir, 'peer.db'));
  const server: Server = createServer();
  // Node closes idle keep-alive sockets after 5 s; a client reusing one at that instant gets ECONNRESET.
  // Test steps are seconds apart, so keep idle sockets longer than any test (stop() drops them).
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const authOptions = {
    baseURL: url,
    secret: randomBytes(32).toString('base64url'),
    database: db,
    emailAndPassword: { enabled: true },
    telemetry: { enabled: false },
    plugins: [
      bearer(),
      jwt({
        jwks: { keyPairConfig: { alg: 'EdDSA' as const, crv: 'Ed25519' as const } },
        jwt: {
          issuer: url, audience, expirationTime: '15m',
          // OIDC claim names, as an identity provider's access tokens carry them.
          definePayload: ({ user }) => ({ email: user.email, email_verified: user.emailVerified, name: user.name }),
        },
      }),
    ],
  };
  const auth = betterAuth(authOptions);
  const { runMigrations } = await getMigrations(authOptions);
  await runMigrations();

  let introspections = 0;
  let jwksFetches = 0;
  const betterAuthHandler = toNodeHandler(auth);
  server.on('request', (req, res) => {
    if (req.url === '/api/auth/jwks') jwksFetches++;
    if (req.url !== '/introspect' || req.method !== 'POST') {
      void betterAuthHandler(req, res);
      return;
    }
    // RFC 7662 §2: a form POST carrying `token`, from an authenticated client; §2.2 answer.
    let body = '';
    req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8'); });
    req.on('end', () => {
      introspections++;
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      };
      const client = options.introspectionClient;
      if (client && req.headers.authorization !== `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`) {
        reply(401, { error: 'invalid_client' });
        return;
      }
      const token = new URLSearchParams(body).get('token') ?? '';
      auth.api.getSession({ headers: new Headers({ authorization: `Bearer ${token}` }) }).then((found) => {
        if (!found) return reply(200, { active: false });
        return reply(200, {
          active: true, iss: url, aud: audience, sub: found.user.id, token_type: 'Bearer',
          exp: Math.floor(new Date(found.session.expiresAt).getTime() / 1000),
          email: found.user.email, email_verified: found.user.emailVerified,
        });
      }, () => reply(500, { error: 'server_error' }));
    });
  });

  async function call(path: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(`${url}/api/auth${path}`, init);
    if (!response.ok) throw new Error(`peer ${path}: ${response.status} ${await response.text()}`);
    return response;
  }

  return {
    url, audience,
    jwksUrl: `${url}/api/auth/jwks`,
    introspectionUrl: `${url}/introspect`,
    introspections: () => introspections,
    jwksFetches: () => jwksFetches,
    async signUp(email, name = 'Peer User') {
      const response = await call('/sign-up/email', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: `pw-${randomBytes(12).toString('hex')}`, name }),
      });
      const sessionToken = response.headers.get('set-auth-token');
      const json = (await response.json()) as { user: { id: string } };
      if (!sessionToken) throw new Error('peer sign-up gave no session token');
      return { id: json.user.id, email, sessionToken };
    },
    async accessToken(user) {
      const response = await call('/token', { headers: { authorization: `Bearer ${user.sessionToken}` } });
      return ((await response.json()) as { token: string }).token;
    },
    async verifyEmail(user) {
      db.prepare('UPDATE "user" SET "emailVerified" = 1 WHERE id = ?').run(user.id);
    },
    async sign(payload) {
      return (await auth.api.signJWT({ body: { payload } })).token;
    },
    async replaceKeys() {
      db.prepare('DELETE FROM jwks').run();
    },
    async signOut(user) {
      await call('/sign-out', { method: 'POST', headers: { authorization: `Bearer ${user.sessionToken}` } });
    },
    async stop() {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      db.close();
    },
  };
}
