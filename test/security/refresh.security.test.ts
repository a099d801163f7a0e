// Attacks on refresh tokens: replaying a rotated token (reuse detection ends the whole session, the
// thief's new pair included), a concurrent refresh told apart from a replay, expiry on a fake clock,
// two refreshes sent at once on two real connections (the loser refused, the session alive),
// the absolute session lifetime however often it rotates (access tokens included), and tokens
// used in the other's place.
import { createHmac } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as networkDelay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import type { TestApp } from '../helpers/app.js';
import {
  authApp, bearer, decodeJwt, expectDeadRefresh, expectInvalidToken, form, me, refresh, register, tokenFor, type TokenPair,
} from '../helpers/auth.js';
import { TEST_SECRET } from '../helpers/config.js';
import { databaseTargets } from '../helpers/databases.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MINUTE = 60_000;

/**
 * A refresh request that has arrived (its arrival is stamped) but whose body is held back until
 * `release()`: the slower of two refreshes a client fired at once.
 */
function heldRefresh(t: TestApp, refreshToken: string) {
  const body = JSON.stringify({ refresh_token: refreshToken });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let arrived!: () => void;
  const reading = new Promise<void>((resolve) => { arrived = resolve; });
  let started = false;
  const payload = new Readable({
    read() {
      arrived();
      if (started) return;
      started = true;
      void gate.then(() => { this.push(body); this.push(null); });
    },
  });
  const response = t.app.inject({
    method: 'POST', url: '/api/v1/auth/refresh', payload,
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
  });
  return { reading, release, response };
}

/** The app on a real port (once per app): raw sockets reach it the way two browser tabs would. */
const addresses = new WeakMap<TestApp, Promise<string>>();
function listening(t: TestApp): Promise<{ host: string; port: number }> {
  if (!addresses.has(t)) addresses.set(t, t.app.listen({ host: '127.0.0.1', port: 0 }));
  return addresses.get(t)!.then((url) => ({ host: '127.0.0.1', port: Number(new URL(url).port) }));
}

/**
 * Opens `count` connections, then writes the same POST on each in one tick, so that they reach
 * the server together; resolves with each status and body.
 */
async function simultaneousPosts(t: TestApp, address: { host: string; port: number }, path: string, body: string, count: number) {
  // Connections open and accepted by the server first, as a browser's kept-alive ones are.
  let accepted = 0;
  const onConnection = () => { accepted += 1; };
  t.app.server.on('connection', onConnection);
  const sockets = await Promise.all(Array.from({ length: count }, () => new Promise<Socket>((resolve, reject) => {
    const socket = connect(address, () => resolve(socket));
    socket.once('error', reject);
  })));
  while (accepted < count) await new Promise((resolve) => setImmediate(resolve));
  t.app.server.off('connection', onConnection);
  const request = `POST ${path} HTTP/1.1\r\nHost: ${address.host}:${address.port}\r\nContent-Type: application/json\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
  const answers = sockets.map((socket) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => { raw += chunk; });
    socket.once('error', reject);
    socket.once('end', () => resolve({ status: Number(raw.split(' ')[1]), body: raw.slice(raw.indexOf('\r\n\r\n') + 4) }));
  }));
  for (const socket of sockets) socket.write(request);
  return Promise.all(answers);
}

/** Where a thief replays from: not the address the legitimate client (inject's 127.0.0.1) uses. */
const THIEF = '203.0.113.66';
const refreshFrom = (app: TestApp['app'], token: string, remoteAddress: string) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: token }, remoteAddress });

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`refresh-token attacks on ${target.name}`, () => {
    let t: TestApp;
    const clock = new FakeClock(Date.UTC(2026, 5, 1));
    let userId: number;
    beforeAll(async () => {
      t = await authApp({ clock, storage: await target.open(), env: { REFRESH_TOKEN_EXPIRE_DAYS: '2', SESSION_MAX_DAYS: '5' } });
      userId = (await register(t.app, { username: 'victim' })).id;
    });
    afterAll(() => t?.close());

    it('a replayed rotated token ends the whole session: the new refresh token and every access token die', async () => {
      const stolen = await tokenFor(t.app, 'victim');
      const other = await tokenFor(t.app, 'victim');
      clock.advance(1000);
      const rotated = await refresh(t.app, stolen.refresh_token);
      expect(rotated.statusCode).toBe(200);
      const fresh = rotated.json<TokenPair>();
      clock.advance(1000);

      expectDeadRefresh(await refreshFrom(t.app, stolen.refresh_token, THIEF));
      expectDeadRefresh(await refresh(t.app, fresh.refresh_token));
      expectInvalidToken(await me(t.app, fresh.access_token));
      expectInvalidToken(await me(t.app, stolen.access_token));
      // The user's other session is not the one that leaked: it lives on.
      expect((await me(t.app, other.access_token)).statusCode).toBe(200);
      expect((await refresh(t.app, other.refresh_token)).statusCode).toBe(200);

      const { events } = await t.storage.audit.list({ limit: 5, offset: 0, action: 'token.refresh_reuse' });
      expect(events[0]).toMatchObject({ userId, outcome: 'blocked', details: { session_id: decodeJwt(stolen.access_token).payload.sid } });
      expect(JSON.stringify(events)).not.toContain(stolen.refresh_token);
    });

    it('the replay may come through the token endpoint too', async () => {
      const first = await tokenFor(t.app, 'victim');
      const next = (await refresh(t.app, first.refresh_token)).json<TokenPair>();
      clock.advance(1);
      const replay = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', remoteAddress: THIEF, ...form({ grant_type: 'refresh_token', refresh_token: first.refresh_token }) });
      expectDeadRefresh(replay);
      expectDeadRefresh(await refresh(t.app, next.refresh_token));
      expectInvalidToken(await me(t.app, next.access_token));
    });

    it('whoever rotates first, the legitimate client or the thief, the other side\'s replay ends it for both', async () => {
      const pair = await tokenFor(t.app, 'victim');
      const thief = (await refresh(t.app, pair.refresh_token)).json<TokenPair>();
      clock.advance(60_000);
      // The real client comes back with the token it still holds.
      expectDeadRefresh(await refresh(t.app, pair.refresh_token));
      expectDeadRefresh(await refresh(t.app, thief.refresh_token));
      expectInvalidToken(await me(t.app, thief.access_token));
    });

    it('a refresh that arrived before the rotation is a concurrent one: 401, but the session lives', async () => {
      const pair = await tokenFor(t.app, 'victim');
      const slow = heldRefresh(t, pair.refresh_token);
      await slow.reading;
      clock.advance(500);
      const fast = await refresh(t.app, pair.refresh_token);
      expect(fast.statusCode, fast.body).toBe(200);
      const winner = fast.json<TokenPair>();
      slow.release();
      expectDeadRefresh(await slow.response);

      expect((await me(t.app, winner.access_token)).statusCode).toBe(200);
      clock.advance(1000);
      expect((await refresh(t.app, winner.refresh_token)).statusCode).toBe(200);
      expect((await t.storage.sessions.findById(String(decodeJwt(winner.access_token).payload.sid)))?.revokedAt).toBeNull();
    });

    it('a concurrent refresh read 50 ms after the first (a connection the client opened late, as fetch does) is still concurrent: the session lives', async () => {
      const address = await listening(t);
      for (let round = 1; round <= 3; round += 1) {
        const pair = await tokenFor(t.app, 'victim');
        const sid = String(decodeJwt(pair.access_token).payload.sid);
        const body = JSON.stringify({ refresh_token: pair.refresh_token });
        const first = simultaneousPosts(t, address, '/api/v1/auth/refresh', body, 1);
        // Real time, not the app's clock: how late the second connection's bytes reach the server.
        await networkDelay(50);
        const late = await simultaneousPosts(t, address, '/api/v1/auth/refresh', body, 1);
        const answers = [...(await first), ...late];
        expect(answers.map((a) => a.status).sort(), `round ${round}`).toEqual([200, 401]);
        const winner = JSON.parse(answers.find((a) => a.status === 200)!.body) as TokenPair;
        expect((await t.storage.sessions.findById(sid))?.revokedAt, `round ${round}`).toBeNull();
        expect((await me(t.app, winner.access_token)).statusCode, `round ${round}`).toBe(200);
        expect((await refresh(t.app, winner.refresh_token)).statusCode, `round ${round}`).toBe(200);
      }
    });

    it('refreshes a client sends at once on two to four connections: one rotates, the others are refused, the session lives', async () => {
      const address = await listening(t);
      for (let round = 1; round <= 24; round += 1) {
        const together = 2 + (round % 3);
        const pair = await tokenFor(t.app, 'victim');
        const sid = String(decodeJwt(pair.access_token).payload.sid);
        const answers = await simultaneousPosts(t, address, '/api/v1/auth/refresh', JSON.stringify({ refresh_token: pair.refresh_token }), together);
        expect(answers.map((a) => a.status).sort(), `round ${round}`).toEqual([200, ...Array(together - 1).fill(401)]);
        const winner = JSON.parse(answers.find((a) => a.status === 200)!.body) as TokenPair;
        expect((await me(t.app, winner.access_token)).statusCode, `round ${round}`).toBe(200);
        expect((await t.storage.sessions.findById(sid))?.revokedAt, `round ${round}`).toBeNull();
        expect((await refresh(t.app, winner.refresh_token)).statusCode, `round ${round}`).toBe(200);
        const reuse = await t.storage.audit.list({ limit: 100, offset: 0, action: 'token.refresh_reuse' });
        expect(reuse.events.filter((e) => e.details?.session_id === sid), `round ${round}`).toEqual([]);
      }
    });

    it('twenty tabs refreshing at once: one rotates, nineteen are refused, the session lives', async () => {
      const address = await listening(t);
      for (let round = 1; round <= 6; round += 1) {
        const pair = await tokenFor(t.app, 'victim');
        const sid = String(decodeJwt(pair.access_token).payload.sid);
        const answers = await simultaneousPosts(t, address, '/api/v1/auth/refresh', JSON.stringify({ refresh_token: pair.refresh_token }), 20);
        expect(answers.map((a) => a.status).sort(), `round ${round}`).toEqual([200, ...Array(19).fill(401)]);
        const winner = JSON.parse(answers.find((a) => a.status === 200)!.body) as TokenPair;
        expect((await t.storage.sessions.findById(sid))?.revokedAt, `round ${round}`).toBeNull();
        expect((await refresh(t.app, winner.refresh_token)).statusCode, `round ${round}`).toBe(200);
      }
    });

    it('a request from another client a millisecond after the rotation is a replay', async () => {
      const pair = await tokenFor(t.app, 'victim');
      const next = (await refresh(t.app, pair.refresh_token)).json<TokenPair>();
      clock.advance(1);
      expectDeadRefresh(await refreshFrom(t.app, pair.refresh_token, THIEF));
      expectDeadRefresh(await refresh(t.app, next.refresh_token));
    });

    it('the same client replaying the rotated token the moment the rotation answered is a replay too: the session ends', async () => {
      // What a thief on the victim's own machine (or network) looks like: no grace after the rotation.
      const pair = await tokenFor(t.app, 'victim');
      const next = (await refresh(t.app, pair.refresh_token)).json<TokenPair>();
      expectDeadRefresh(await refresh(t.app, pair.refresh_token));
      expectDeadRefresh(await refresh(t.app, next.refresh_token));
      expectInvalidToken(await me(t.app, next.access_token));
    });

    it('a refresh token expires REFRESH_TOKEN_EXPIRE_DAYS after it was issued', async () => {
      const early = await tokenFor(t.app, 'victim');
      const late = await tokenFor(t.app, 'victim');
      clock.advance(2 * DAY - 1);
      expect((await refresh(t.app, early.refresh_token)).statusCode).toBe(200);
      clock.advance(1);
      expectDeadRefresh(await refresh(t.app, late.refresh_token));
      // Its access token expired long before.
      expectInvalidToken(await me(t.app, late.access_token));
    });

    it('an access token expires after ACCESS_TOKEN_EXPIRE_MINUTES', async () => {
      const pair = await tokenFor(t.app, 'victim');
      clock.advance(15 * 60_000 - 1000);
      expect((await me(t.app, pair.access_token)).statusCode).toBe(200);
      clock.advance(1000);
      expectInvalidToken(await me(t.app, pair.access_token));
    });

    it('a session ends at SESSION_MAX_DAYS even though it kept rotating', async () => {
      let pair = await tokenFor(t.app, 'victim');
      const sid = decodeJwt(pair.access_token).payload.sid;
      for (let hours = 36; hours <= 5 * 24 - 1; hours += 36) {
        clock.advance(36 * HOUR);
        const res = await refresh(t.app, pair.refresh_token);
        expect(res.statusCode, `after ${hours} h`).toBe(200);
        pair = res.json<TokenPair>();
        expect(decodeJwt(pair.access_token).payload.sid).toBe(sid);
      }
      // 108 h in; the last token would live 48 h more, but the session ends at 120 h.
      clock.advance(12 * HOUR - 5 * MINUTE);
      const justBefore = await refresh(t.app, pair.refresh_token);
      expect(justBefore.statusCode).toBe(200);
      pair = justBefore.json<TokenPair & { expires_in: number }>();
      // Its access token lives 5 minutes, not the usual 15: no token outlives its session.
      expect(pair.expires_in).toBeLessThanOrEqual(300);
      expect(pair.expires_in).toBeGreaterThanOrEqual(299);
      const { exp, iat } = decodeJwt(pair.access_token).payload as { exp: number; iat: number };
      expect(exp - iat).toBe(pair.expires_in);
      clock.advance(5 * MINUTE - 2000);
      expect((await me(t.app, pair.access_token)).statusCode).toBe(200);
      clock.advance(2000);
      expectInvalidToken(await me(t.app, pair.access_token));
      expectDeadRefresh(await refresh(t.app, pair.refresh_token));
      // A new login is a new session with a fresh lifetime.
      const again = await tokenFor(t.app, 'victim');
      expect(decodeJwt(again.access_token).payload.sid).not.toBe(sid);
      expect((await refresh(t.app, again.refresh_token)).statusCode).toBe(200);
    });

    it('a refresh token is never an access token', async () => {
      const pair = await tokenFor(t.app, 'victim');
      expectInvalidToken(await me(t.app, pair.refresh_token));
      const sessions = await t.app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(pair.refresh_token) });
      expectInvalidToken(sessions);
      // ...and trying did not spend it.
      expect((await refresh(t.app, pair.refresh_token)).statusCode).toBe(200);
    });

    it('an access token is never a refresh token, on either endpoint', async () => {
      const pair = await tokenFor(t.app, 'victim');
      expectDeadRefresh(await refresh(t.app, pair.access_token));
      const grant = await t.app.inject({ method: 'POST', url: '/api/v1/auth/token', ...form({ grant_type: 'refresh_token', refresh_token: pair.access_token }) });
      expectDeadRefresh(grant);
      // Nor is the refresh token's keyed hash (what the database holds) a token.
      const stored = await t.storage.handle.db.selectFrom('refresh_tokens').select('token_hash').limit(1).executeTakeFirstOrThrow();
      expectDeadRefresh(await refresh(t.app, stored.token_hash));
    });

    it('refresh tokens are stored as keyed hashes under a key derived from SECRET_KEY, never the raw secret', async () => {
      const pair = await tokenFor(t.app, 'victim');
      const rows = await t.storage.handle.db.selectFrom('refresh_tokens').select('token_hash').execute();
      const hashes = rows.map((r) => r.token_hash);
      expect(hashes.join(' ')).not.toContain(pair.refresh_token);
      expect(hashes).not.toContain(createHmac('sha256', TEST_SECRET).update(pair.refresh_token).digest('base64url'));
      expect(hashes).not.toContain(createHmac('sha256', TEST_SECRET).update(pair.refresh_token).digest('hex'));
      expect(hashes).toContain(createHmac('sha256', t.app.gatehouse.derivedKeys.refreshToken).update(pair.refresh_token).digest('base64url'));
    });

    it('a refresh token of a deactivated user is dead', async () => {
      const { id } = await register(t.app, { username: 'leaver' });
      const pair = await tokenFor(t.app, 'leaver');
      await t.storage.users.update(id, { isActive: false }, clock.now());
      expectDeadRefresh(await refresh(t.app, pair.refresh_token));
    });
  });
}
