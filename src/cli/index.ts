// The gatehouse command line: serve (default), migrate, create-admin, help.
import { ConfigError, loadConfig } from '../config/index.js';
import { describeStartError, serve } from '../main.js';

const USAGE = `Usage: gatehouse <command>

Commands:
  serve          start the server (default)
  migrate        bring the database schema up to date and exit
  create-admin   create an administrator (asks for the password; --password-stdin for scripts)
  rotate-signing-key
                 EdDSA/ES256: start signing with a new key; the old one keeps verifying until its tokens expire
  help           show this text
`;

async function migrate(): Promise<number> {
  const { config } = loadConfig(process.env);
  // Database drivers load after the configuration passed (see main.ts).
  const { migrateDatabase } = await import('../storage/index.js');
  const applied = await migrateDatabase(config.databaseUrl, {});
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
  return 0;
}

/** Commands that take no arguments: asked for help they show it, given anything else they refuse (never act on a typo). */
const WITHOUT_ARGUMENTS = new Set(['serve', 'migrate', 'rotate-signing-key']);

export async function main(argv: readonly string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  if (WITHOUT_ARGUMENTS.has(command) && rest.length > 0) {
    if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h')) {
      process.stdout.write(USAGE);
      return 0;
    }
    process.stderr.write(`gatehouse: ${command} takes no arguments (got ${rest.map((a) => JSON.stringify(a)).join(' ')})\n\n${USAGE}`);
    return 2;
  }
  try {
    switch (command) {
      case 'serve': return await serve(process.env);
      case 'migrate': return await migrate();
      case 'create-admin': {
        const { createAdminCommand } = await import('./create-admin.js');
        return await createAdminCommand(rest);
      }
      case 'rotate-signing-key': {
        const { rotateSigningKeyCommand } = await import('./rotate-signing-key.js');
        return await rotateSigningKeyCommand();
      }
      case 'help': case '--help': case '-h':
        process.stdout.write(USAGE);
        return 0;
      default:
        process.stderr.write(`gatehouse: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.lines) process.stderr.write(`gatehouse: ${line}\n`);
    } else {
      process.stderr.write(`gatehouse: ${describeStartError(err)}\n`);
    }
    return 1;
  }
}
