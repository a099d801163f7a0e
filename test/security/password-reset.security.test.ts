// Attacks on password reset: telling known from unknown addresses (bodies, headers, mail failures),
// an expired or reused token, the token in any HTTP response or log line, flooding one mailbox,
// the shared per-IP auth budget, and a reset used to get around two-factor sign-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { FakeClock } from '../../src/clock.js';
import { createPasswordHasher } from '../../src/crypto/passwords.js';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, login, register, tokenFor } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';
import { enableTotp, totpCode } from '../helpers/mfa.js';
import { resetLinkToken, startSmtp, type ReceivedMail, type TestSmtp } from '../helpers/smtp.js';

const PUBLIC_URL = 'https://auth.example.test';
const MINUTE = 60_000;
const NEW_PASSWORD = 'a brand new passphrase';
const BAD_TOKEN = { detail: 'Invalid or expired password reset token' };

/** Everything of a response a client could see: status, headers, body. */
function visible(res: LightMyRequestResponse): string {
  return `${res.statusCode}\n${JSON.stringify(res.headers)}\n${res.body}`;
}

/** Headers that differ between any two requests (ids, counters, the clock) are left out of the comparison. */
function comparable(res: LightMyRequestResponse) {
  const { 'x-request-id': _id, 'ratelimit-remaining': _r, 'ratelimit-reset': _s, date: _d, ...headers } = res.headers;
  return { status: res.statusCode, headers, body: res.body };
}

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`password reset attacks on ${target.name}`, () => {
    let t: TestApp;
    let smtp: TestSmtp;
    const clock = new FakeClock(Date.UTC(2026, 6, 1, 10, 0, 0));
    /** Every response this file received: the token must be in none of them. */
    const seen: LightMyRequestResponse[] = [];
    beforeAll(async () => {
      smtp = await startSmtp();
      // A fixed waiting line: the race below must meet the compare-and-set, not load shedding on a busy machine.
      t = await authApp({ clock, storage: await target.open(), env: { SMTP_URL: smtp.url, PUBLIC_URL }, services: { hasher: createPasswordHasher({ maxQueue: 16 }) } });
    });
    afterAll(async () => {
      await t?.close();
      await smtp?.close();
    });

    const track = (res: LightMyRequestResponse) => {
      seen.push(res);
      return res;
    };
    const requestReset = async (email: string) => track(await t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/request', payload: { email } }));
    const confirm = async (token: string, newPassword = NEW_PASSWORD) =>
      track(await t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/confirm', payload: { token, new_password: newPassword } }));
    async function mailedToken(email: string): Promise<string> {
      const count = smtp.messages.length;
      expect((await requestReset(email)).statusCode).toBe(202);
      // Its own mail: a retried earlier one (a bounce below) may arrive first.
      let mail: ReceivedMail | undefined;
      for (let seen = count + 1; !mail; seen += 1) mail = (await smtp.waitFor(seen)).slice(count).find((m) => m.rcptTo.includes(email));
      const token = resetLinkToken(mail.text, PUBLIC_URL);
      expect(token).toBeDefined();
      return token!;
    }

    it('known, unknown and inactive addresses get byte-identical answers', async () => {
      await register(t.app, { username: 'known', email: 'known@example.com' });
      const inactive = await register(t.app, { username: 'asleep', email: 'asleep@example.com' });
      await t.storage.users.update(inactive.id, { isActive: false }, clock.now());
      const answers = [await requestReset('known@example.com'), await requestReset('unknown@example.com'), await requestReset('asleep@example.com')];
      for (const res of answers) expect(res.statusCode).toBe(202);
      expect(comparable(answers[1]!)).toEqual(comparable(answers[0]!));
      expect(comparable(answers[2]!)).toEqual(comparable(answers[0]!));
      await t.app.gatehouse.passwordReset.settled();
      expect(smtp.messages.map((m) => m.rcptTo[0])).toEqual(['known@example.com']);
    });

    it('a token works once: the second confirm is 400 and sets nothing', async () => {
      await register(t.app, { username: 'once', email: 'once@example.com' });
      const token = await mailedToken('once@example.com');
      expect((await confirm(token)).statusCode).toBe(204);
      const again = await confirm(token, 'attacker chosen passphrase');
      expect(again.statusCode).toBe(400);
      expect(again.json()).toEqual(BAD_TOKEN);
      expect((await login(t.app, 'once', NEW_PASSWORD)).statusCode).toBe(200);
      expect((await login(t.app, 'once', 'attacker chosen passphrase')).statusCode).toBe(401);
    });

    it('a token expires after 30 minutes', async () => {
      await register(t.app, { username: 'slow', email: 'slow@example.com' });
      const stale = await mailedToken('slow@example.com');
      clock.advance(31 * MINUTE);
      const res = await confirm(stale);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(BAD_TOKEN);
      expect((await login(t.app, 'slow')).statusCode).toBe(200);
      // One still inside its 30 minutes works.
      const fresh = await mailedToken('slow@example.com');
      clock.advance(29 * MINUTE);
      expect((await confirm(fresh)).statusCode).toBe(204);
    });

    it('two racing confirms with one token: exactly one succeeds', async () => {
      await register(t.app, { username: 'racer', email: 'racer@example.com' });
      const token = await mailedToken('racer@example.com');
      const results = await Promise.all([confirm(token, 'first racing passphrase'), confirm(token, 'second racing passphrase')]);
      expect(results.map((r) => r.statusCode).sort()).toEqual([204, 400]);
    });

    it('one mailbox gets at most 3 mails in 15 minutes; the 4th request still says 202', async () => {
      await register(t.app, { username: 'flooded', email: 'flooded@example.com' });
      const before = smtp.messages.length;
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await requestReset('flooded@example.com'));
      for (const res of answers) expect(comparable(res)).toEqual(comparable(answers[0]!));
      await t.app.gatehouse.passwordReset.settled();
      expect(smtp.messages.length - before).toBe(3);
      clock.advance(15 * MINUTE + 1);
      await mailedToken('flooded@example.com');
    });

    it('a mail that cannot be sent changes nothing a client sees, and is logged without the token', async () => {
      await register(t.app, { username: 'bounced', email: 'bounced@example.com' });
      const normal = await requestReset('unknown-again@example.com');
      smtp.rejecting = true;
      try {
        const failing = await requestReset('bounced@example.com');
        expect(comparable(failing)).toEqual(comparable(normal));
        await t.app.gatehouse.passwordReset.settled();
      } finally {
        smtp.rejecting = false;
      }
      const line = t.logs.find((l) => l.msg === 'password reset mail not sent');
      expect(line).toMatchObject({ level: 40 });
      // Not lost: once the mail server takes mail again, the retry delivers it.
      const count = smtp.messages.length;
      clock.advance(MINUTE);
      const [retried] = (await smtp.waitFor(count + 1)).slice(count);
      expect(retried!.rcptTo).toEqual(['bounced@example.com']);
      expect(resetLinkToken(retried!.text, PUBLIC_URL)).toBeDefined();
    });

    it('a reset does not get around two-factor sign-in', async () => {
      await register(t.app, { username: 'two_factor', email: 'two_factor@example.com' });
      const { secret } = await enableTotp(t.app, (await tokenFor(t.app, 'two_factor')).access_token, clock);
      clock.advance(2 * MINUTE);
      expect((await confirm(await mailedToken('two_factor@example.com'))).statusCode).toBe(204);
      const res = await login(t.app, 'two_factor', NEW_PASSWORD);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: 'mfa_required' });
      expect((await login(t.app, 'two_factor', NEW_PASSWORD, { otp: totpCode(secret, clock.now()) })).statusCode).toBe(200);
    });

    it('no token ever appears in an HTTP response or a log line', async () => {
      const tokens = smtp.messages.map((m) => resetLinkToken(m.text, PUBLIC_URL)).filter((x): x is string => x !== undefined);
      expect(tokens.length).toBeGreaterThanOrEqual(8);
      expect(seen.length).toBeGreaterThan(20);
      const responses = seen.map(visible).join('\n');
      const logs = t.logs.map((l) => JSON.stringify(l)).join('\n');
      for (const token of tokens) {
        expect(responses).not.toContain(token);
        expect(logs).not.toContain(token);
      }
    });
  });
}

describe('the reset routes share the per-IP auth budget', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await authApp({ env: { RATE_LIMIT_AUTH: '3/minute' } });
  });
  afterAll(() => t?.close());

  it('request, confirm and sign-in count against one budget of N a minute', async () => {
    const post = (url: string, payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url, payload, remoteAddress: '203.0.113.9' });
    expect((await post('/api/v1/auth/password-reset/request', { email: 'a@example.com' })).statusCode).toBe(202);
    expect((await post('/api/v1/auth/password-reset/confirm', { token: 'x'.repeat(43), new_password: NEW_PASSWORD })).statusCode).toBe(400);
    expect((await post('/api/v1/auth/login', { username: 'nobody', password: PASSWORD })).statusCode).toBe(401);
    const refused = await post('/api/v1/auth/password-reset/request', { email: 'a@example.com' });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    // Another client is not affected.
    const other = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/request', payload: { email: 'a@example.com' }, remoteAddress: '198.51.100.7' });
    expect(other.statusCode).toBe(202);
  });
});
