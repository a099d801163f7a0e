// The first administrator: from FIRST_SUPERUSER / FIRST_SUPERUSER_PASSWORD at start-up, or from
// `gatehouse create-admin`. Never promotes an existing account: someone could have registered the
// operator's address first, and would become admin.
import { HttpError } from '../errors/http-error.js';
import type { Storage, User } from '../storage/index.js';
import type { UserService } from './users.js';

export class BootstrapError extends Error {
  override readonly name = 'BootstrapError';
}

export interface NewAdmin {
  readonly email: string;
  readonly username?: string;
  readonly password: string;
  readonly fullName?: string | null;
}

/** How refusals name their input: env var names at start-up, field names in the CLI. */
export interface Labels {
  readonly identity: string;
  readonly password: string;
}

/** Creates an admin; a policy or uniqueness refusal becomes a BootstrapError naming the problem. */
export async function createAdmin(users: UserService, admin: NewAdmin, labels: Labels): Promise<User> {
  const username = admin.username ?? admin.email.split('@')[0]!;
  try {
    return await users.register({ email: admin.email, username, password: admin.password, fullName: admin.fullName ?? null }, 'admin');
  } catch (err) {
    if (err instanceof HttpError && err.code === 'VALIDATION_FAILED') {
      // Name what was wrong: a bad username or email is not the password's fault.
      const field = err.issues?.[0]?.loc.at(-1);
      const msg = err.issues?.map((i) => i.msg).join('; ') ?? err.detail;
      throw new BootstrapError(field === 'password' ? `${labels.password}: ${msg}` : `${labels.identity}: ${String(field ?? 'value')} is invalid (${msg})`);
    }
    if (err instanceof HttpError && (err.code === 'USERNAME_TAKEN' || err.code === 'EMAIL_TAKEN')) {
      throw new BootstrapError(`${labels.identity}: an account with this ${err.code === 'EMAIL_TAKEN' ? 'email' : 'username'} already exists; it is not promoted automatically`);
    }
    throw err;
  }
}

/** At start-up: if no admin exists yet, create the configured one. Returns it when created. */
export async function ensureFirstSuperuser(storage: Storage, users: UserService, email: string | undefined, password: string | undefined): Promise<User | undefined> {
  if (!email || !password) return undefined;
  if ((await storage.users.countAdmins()) > 0) return undefined;
  try {
    return await createAdmin(users, { email, password }, { identity: 'FIRST_SUPERUSER', password: 'FIRST_SUPERUSER_PASSWORD' });
  } catch (err) {
    // Another instance starting at the same moment may have created it: that is success.
    if (err instanceof BootstrapError && (await storage.users.countAdmins()) > 0) return undefined;
    throw err;
  }
}
