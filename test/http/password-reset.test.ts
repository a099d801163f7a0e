// Password reset by mail, end to end over a real SMTP server: 202 for any address, the mail to the
// account's own address with a working link, confirming it (new password works, old password and
// every old session do not), the policy on the new password, and the .eml outbox without SMTP_URL.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../src/storage/index.js';
import { tempDir } from '../helpers/config.js';
import { until } from '../helpers/poll.js';
import type { TestApp } from '../helpers/app.js';
import { PASSWORD, authApp, expectDeadRefresh, expectInvalidToken, login, me, refresh, register, registerAdmin, tokenFor } from '../helpers/auth.js';
import { databaseTargets } from '../helpers/databases.js';
import { resetLinkToken, startSmtp, type ReceivedMail, type TestSmtp } from '../helpers/smtp.js';

const PUBLIC_URL = 'https://auth.example.test';
const MAIL_FROM = 'Gatehouse Security <security@example.test>';
const ACCEPTED = { detail: 'If an account with that email exists, a password reset link has been sent to it.' };
const NEW_PASSWORD = 'a brand new passphrase';

/** The token of the link in a reset mail (fails the test when there is none). */
function tokenOf(mail: ReceivedMail): string {
  const token = resetLinkToken(mail.text, PUBLIC_URL);
  expect(token, mail.text).toBeDefined();
  return token!;
}

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`password reset on ${target.name}`, () => {
    let t: TestApp;
    let smtp: TestSmtp;
    beforeAll(async () => {
      smtp = await startSmtp();
      t = await authApp({ storage: await target.open(), env: { SMTP_URL: smtp.url, PUBLIC_URL, MAIL_FROM } });
    });
    afterAll(async () => {
      await t?.close();
      await smtp?.close();
    });

    const requestReset = (email: string) => t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/request', payload: { email } });
    const confirm = (token: string, newPassword = NEW_PASSWORD) =>
      t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/confirm', payload: { token, new_password: newPassword } });
    /** Asks for a reset and returns the mail it caused. */
    async function resetMail(email: string): Promise<ReceivedMail> {
      const count = smtp.messages.length;
      expect((await requestReset(email)).statusCode).toBe(202);
      return (await smtp.waitFor(count + 1))[count]!;
    }

    it('the mail goes to the account\'s address from MAIL_FROM; its link resets the password; old password and sessions die', async () => {
      const user = await register(t.app, { username: 'forgetful', email: 'Forgetful@Example.com' });
      const before = await tokenFor(t.app, 'forgetful');
      const other = await tokenFor(t.app, 'forgetful');

      const res = await requestReset('forgetful@example.COM');
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual(ACCEPTED);
      const [mail] = (await smtp.waitFor(1)).slice(-1);
      // The account's address exactly as the user JSON shows it (its domain kept in lower case), not
      // the spelling the request used.
      expect(user.email).toBe('Forgetful@example.com');
      expect(mail!.rcptTo).toEqual([user.email]);
      expect(mail!.headers.to).toBe(user.email);
      expect(mail!.headers.from).toBe(MAIL_FROM);
      expect(mail!.mailFrom).toBe('security@example.test');
      expect(mail!.headers.subject).toMatch(/reset/i);
      const token = tokenOf(mail!);
      expect(token.length).toBeGreaterThanOrEqual(43);
      // The link is in the raw message as sent, not only after decoding.
      expect(mail!.raw).toContain(`${PUBLIC_URL}/reset-password?token=${token}`);

      const done = await confirm(token);
      expect(done.statusCode, done.body).toBe(204);
      expect(done.body).toBe('');
      expect((await login(t.app, 'forgetful', NEW_PASSWORD)).statusCode).toBe(200);
      expect((await login(t.app, 'forgetful', PASSWORD)).statusCode).toBe(401);
      for (const pair of [before, other]) {
        expectInvalidToken(await me(t.app, pair.access_token));
        expectDeadRefresh(await refresh(t.app, pair.refresh_token));
      }
      const { events } = await t.storage.audit.list({ limit: 5, offset: 0, action: 'password.reset', userId: user.id });
      expect(events[0]).toMatchObject({ outcome: 'success' });
      expect(JSON.stringify(events)).not.toContain(token);
    });

    it('an unknown address gets the same 202 and no mail is sent', async () => {
      const count = smtp.messages.length;
      const res = await requestReset('nobody-here@example.com');
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual(ACCEPTED);
      await t.app.gatehouse.passwordReset.settled();
      expect(smtp.messages.length).toBe(count);
    });

    it('the new password must pass the policy (422); the link stays usable after a refusal', async () => {
      await register(t.app, { username: 'picky', email: 'picky@example.com' });
      const token = tokenOf(await resetMail('picky@example.com'));
      for (const weak of ['short', 'password123', 'Picky@Example.com']) {
        const res = await confirm(token, weak);
        expect(res.statusCode, weak).toBe(422);
        expect(res.json().detail[0]).toMatchObject({ loc: ['body', 'new_password'], type: 'value_error' });
      }
      expect((await login(t.app, 'picky')).statusCode).toBe(200);
      expect((await confirm(token)).statusCode).toBe(204);
    });

    it('an unknown token is 400 with a clear detail; malformed bodies are 422', async () => {
      const res = await confirm('x'.repeat(43));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ detail: 'Invalid or expired password reset token' });
      expect((await confirm('short')).json()).toEqual(res.json());
      const noEmail = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/request', payload: {} });
      expect(noEmail.statusCode).toBe(422);
      expect(noEmail.json().detail[0]).toMatchObject({ loc: ['body', 'email'] });
      expect((await requestReset('not an email')).statusCode).toBe(422);
      const extra = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/confirm', payload: { token: 'x'.repeat(43), new_password: NEW_PASSWORD, user_id: 1 } });
      expect(extra.statusCode).toBe(422);
    });

    it('a link mailed to the old address dies when the account moves to a new one', async () => {
      await register(t.app, { username: 'mover', email: 'mover@example.com' });
      const pair = await tokenFor(t.app, 'mover');
      const token = tokenOf(await resetMail('mover@example.com'));
      const moved = await t.app.inject({
        method: 'PATCH', url: '/api/v1/users/me', headers: { authorization: `Bearer ${pair.access_token}` },
        payload: { email: 'mover.new@example.com', current_password: PASSWORD },
      });
      expect(moved.statusCode).toBe(200);
      expect((await confirm(token)).statusCode).toBe(400);
      expect((await login(t.app, 'mover', NEW_PASSWORD)).statusCode).toBe(401);
      expect((await login(t.app, 'mover')).statusCode).toBe(200);
      // The new mailbox can ask for a link of its own.
      expect((await confirm(tokenOf(await resetMail('mover.new@example.com')))).statusCode).toBe(204);
    });

    it('a link dies with a deactivation: reactivating the account does not bring it back', async () => {
      const admin = await registerAdmin(t.app, 'resetkeeper');
      const adminToken = (await tokenFor(t.app, admin.username)).access_token;
      const user = await register(t.app, { username: 'suspended', email: 'suspended@example.com' });
      const token = tokenOf(await resetMail('suspended@example.com'));
      const setActive = (isActive: boolean) => t.app.inject({
        method: 'PATCH', url: `/api/v1/admin/users/${user.id}`, headers: { authorization: `Bearer ${adminToken}` }, payload: { is_active: isActive },
      });
      expect((await setActive(false)).statusCode).toBe(200);
      expect((await setActive(true)).statusCode).toBe(200);
      expect((await confirm(token)).statusCode).toBe(400);
      expect((await login(t.app, 'suspended')).statusCode).toBe(200);
    });

    it('a reset kills the other links still outstanding', async () => {
      await register(t.app, { username: 'twice', email: 'twice@example.com' });
      const first = tokenOf(await resetMail('twice@example.com'));
      const second = tokenOf(await resetMail('twice@example.com'));
      expect(first).not.toBe(second);
      expect((await confirm(second)).statusCode).toBe(204);
      expect((await confirm(first, 'yet another passphrase')).statusCode).toBe(400);
    });

    it('two links of one account confirmed at once: one 204, the other 400, never a 500 (PostgreSQL deadlocked them)', async () => {
      for (const round of [1, 2, 3]) {
        const email = `racer${round}@example.com`;
        await register(t.app, { username: `racer${round}`, email });
        const tokens = [tokenOf(await resetMail(email)), tokenOf(await resetMail(email))];
        const answers = await Promise.all(tokens.map((token, i) => confirm(token, `racing passphrase number ${i}`)));
        expect(answers.map((a) => a.statusCode).sort(), answers.map((a) => a.body).join(' ')).toEqual([204, 400]);
        const winner = answers.findIndex((a) => a.statusCode === 204);
        expect((await login(t.app, `racer${round}`, `racing passphrase number ${winner}`)).statusCode).toBe(200);
        expect((await login(t.app, `racer${round}`, `racing passphrase number ${1 - winner}`)).statusCode).toBe(401);
      }
    });
  });
}

describe('password reset without SMTP_URL', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await authApp({ env: { PUBLIC_URL } });
  });
  afterAll(() => t?.close());

  it('writes each mail as an .eml file under DATA_DIR/outbox, readable only by the server', async () => {
    await register(t.app, { username: 'offline', email: 'offline@example.com' });
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/request', payload: { email: 'offline@example.com' } });
    expect(res.statusCode).toBe(202);
    await t.app.gatehouse.passwordReset.settled();
    const outbox = join(t.config.dataDir, 'outbox');
    const files = readdirSync(outbox).filter((f) => f.endsWith('.eml'));
    expect(files).toHaveLength(1);
    const path = join(outbox, files[0]!);
    expect(statSync(path).mode & 0o077).toBe(0);
    const raw = readFileSync(path, 'utf8');
    expect(raw).toMatch(/^To: offline@example\.com\r?$/m);
    expect(raw).toMatch(/^From: Gatehouse <no-reply@gatehouse\.local>\r?$/m);
    const token = resetLinkToken(raw, PUBLIC_URL);
    expect(token).toBeDefined();
    const done = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/confirm', payload: { token, new_password: NEW_PASSWORD } });
    expect(done.statusCode, done.body).toBe(204);
    expect((await login(t.app, 'offline', NEW_PASSWORD)).statusCode).toBe(200);
  });
});

// The mail went out while another process held SQLite's write lock: recording it as sent waits for
// the lock (tried again for half the lease), so the mail is not sent a second time once the lease ends.
describe('a reset mail sent while the database is locked for a moment', () => {
  let t: TestApp;
  let smtp: TestSmtp;
  let other: SqliteDatabase.Database;
  const url = `sqlite:${tempDir()}/reset-locked.db`;
  beforeAll(async () => {
    smtp = await startSmtp();
    t = await authApp({ storage: Object.assign(await openStorage(url), { url }), env: { SMTP_URL: smtp.url, PUBLIC_URL } });
    other = new SqliteDatabase(url.slice('sqlite:'.length), { timeout: 0 });
  });
  afterAll(async () => {
    if (other?.inTransaction) other.exec('rollback');
    other?.close();
    await t?.close();
    await smtp?.close();
  });

  it('is recorded as sent once the lock is let go, and never sent again', async () => {
    await register(t.app, { username: 'locked_out', email: 'locked_out@example.com' });
    let release!: () => void;
    smtp.hold = new Promise<void>((resolve) => (release = resolve));
    const held = smtp.held();
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/request', payload: { email: 'locked_out@example.com' } })).statusCode).toBe(202);
    await held;
    // The mail is at the server's last step; the database is locked before the sender hears back.
    other.exec('begin exclusive');
    smtp.hold = undefined;
    release();
    await smtp.waitFor(1);
    // Held until the first attempt to record it has failed (past the lock wait); then let go.
    await until(async () => t.logs.some((l) => l.msg === 'password reset mail sent; recording it waits for the database'), Boolean, 10_000, 'the first attempt to record the mail failing');
    other.exec('rollback');
    await t.app.gatehouse.passwordReset.settled();
    const rows = other.prepare('select done_at from password_reset_requests').all() as { done_at: number | null }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.done_at).not.toBeNull();
    expect(smtp.messages).toHaveLength(1);
  });
});

