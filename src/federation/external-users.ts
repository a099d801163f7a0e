// Maps a verified external identity to a local user: by (issuer, sub) once linked; on first sight
// linked to the user with the same email only when the issuer is configured for it and says the email
// is verified; otherwise a new user with the default role, whose password can never be used.
import { createHash, randomBytes } from 'node:crypto';
import { TokenRejected } from '../crypto/access-tokens.js';
import { UniqueViolationError, type Storage, type User } from '../storage/index.js';
import type { ExternalIdentity } from './identity.js';
import { isEmailAddress, normalizeEmail } from '../email-address.js';

/**
 * The password hash of a user made from an external identity. The hasher verifies only `$argon2…`
 * and `$2a/b/y$…` strings; anything else costs one dummy verify and fails (src/crypto/passwords.ts),
 * so no password ever signs such a user in (like `!` in /etc/shadow). The random tail keeps rows distinct.
 * A password reset sent to the user's own (issuer-verified) email is the only way to give them one.
 */
export const EXTERNAL_PASSWORD_HASH_PREFIX = '!external:';

export function unusablePasswordHash(): string {
  return `${EXTERNAL_PASSWORD_HASH_PREFIX}${randomBytes(24).toString('base64url')}`;
}

/** Racing first requests of one identity, or a username clash: a few tries, then give up (503-free 401). */
const ATTEMPTS = 4;

class LinkRace extends Error {}

export interface ExternalUsersOptions {
  readonly storage: Storage;
  readonly now: () => number;
  readonly log: { info(obj: object, msg: string): void };
}

export class ExternalUsers {
  constructor(private readonly o: ExternalUsersOptions) {}

  /** The local user for `identity`, created on first use; throws TokenRejected for an inactive user. */
  async resolve(identity: ExternalIdentity): Promise<User> {
    const { storage } = this.o;
    const issuer = identity.issuer.issuer;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const linked = await storage.identities.findUserId(issuer, identity.subject);
      if (linked !== undefined) return active(await storage.users.findById(linked));

      const byEmail = identity.issuer.linkByEmail && identity.emailVerified && identity.email !== undefined
        ? await storage.users.findByEmail(identity.email) : undefined;
      try {
        if (byEmail) {
          if (!(await storage.identities.link(issuer, identity.subject, byEmail.id, this.o.now()))) continue;
          this.o.log.info({ user_id: byEmail.id, issuer: identity.issuer.name }, 'external identity linked by verified email');
          return active(byEmail);
        }
        const user = await this.create(identity, attempt);
        this.o.log.info({ user_id: user.id, issuer: identity.issuer.name }, 'user created from external identity');
        return user;
      } catch (err) {
        // Another request created or linked this identity (or took the username) first: look again.
        if (err instanceof LinkRace || err instanceof UniqueViolationError) continue;
        throw err;
      }
    }
    throw new TokenRejected('could not link external identity');
  }

  private async create(identity: ExternalIdentity, attempt: number): Promise<User> {
    const { storage, now } = this.o;
    const email = await this.emailFor(identity);
    const username = await this.usernameFor(identity, attempt);
    // One transaction: a user without its link would be an orphan nobody can sign in as.
    return storage.transaction(async (repos) => {
      const user = await repos.users.create({
        username, email: normalizeEmail(email), fullName: identity.name ?? null, passwordHash: unusablePasswordHash(), role: 'user',
      }, now());
      if (!(await repos.identities.link(identity.issuer.issuer, identity.subject, user.id, now()))) throw new LinkRace();
      return user;
    });
  }

  /**
   * The issuer's email only when it says it verified it and nobody here has it; otherwise an address
   * under `.invalid` (RFC 2606: never delivered), unique per identity. An unverified email could
   * otherwise squat a real person's address before they sign up.
   */
  private async emailFor(identity: ExternalIdentity): Promise<string> {
    const { email } = identity;
    if (identity.emailVerified && email !== undefined && isEmailAddress(email) && !(await this.o.storage.users.findByEmail(email))) return email;
    const digest = createHash('sha256').update(`${identity.issuer.issuer}\n${identity.subject}`).digest('hex').slice(0, 24);
    return `${identity.issuer.name}-${digest}@external.invalid`;
  }

  /** The contract's username rule (3–50 of letters, digits, _), from the identity's name, unique. */
  private async usernameFor(identity: ExternalIdentity, attempt: number): Promise<string> {
    const source = identity.preferredUsername ?? identity.email?.split('@')[0] ?? identity.name ?? 'user';
    let base = source.normalize('NFKD').replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40);
    if (base.length < 3) base = `ext_${base}`.replace(/_$/, '_user');
    if (attempt === 0 && !(await this.o.storage.users.findByLogin(base))) return base;
    return `${base}_${randomBytes(4).toString('hex')}`;
  }
}

function active(user: User | undefined): User {
  // Deactivation and deletion apply to external sign-ins too (contract: never data for an inactive user).
  if (!user || !user.isActive) throw new TokenRejected('user inactive or gone');
  return user;
}
