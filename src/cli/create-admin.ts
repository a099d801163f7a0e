// gatehouse create-admin: makes an administrator. Asks for the password without echo, twice; or
// reads it from stdin with --password-stdin (for scripts: never pass a password as an argument).
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { systemClock } from '../clock.js';
import { loadConfig } from '../config/index.js';
import { BootstrapError, createAdmin } from '../services/bootstrap.js';
import { createServices } from '../services/index.js';
import { openStorage } from '../storage/index.js';
import { InputEndedError, openPrompt, type Prompt } from './prompt.js';

const HELP = `Usage: gatehouse create-admin [--email EMAIL] [--username NAME] [--full-name NAME] [--password-stdin]

Creates an administrator in the configured database (DATABASE_URL). Without --password-stdin the
password is asked for twice, without echo.
`;

export async function createAdminCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      email: { type: 'string' }, username: { type: 'string' }, 'full-name': { type: 'string' },
      'password-stdin': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  // stdin carries the password then, so it cannot also answer the email question.
  if (values['password-stdin'] && values.email === undefined) {
    process.stderr.write('gatehouse: --password-stdin needs --email\n');
    return 2;
  }
  const { config } = loadConfig(process.env);
  const prompt = openPrompt();
  let answers: Answers | number;
  try {
    answers = await askAnswers(prompt, values);
  } catch (err) {
    if (!(err instanceof InputEndedError)) throw err;
    process.stderr.write(`gatehouse: ${err.message}\n`);
    return 1;
  } finally {
    prompt.close();
  }
  if (typeof answers === 'number') return answers;
  const { email, username, password } = answers;
  const storage = await openStorage(config.databaseUrl);
  try {
    // A one-off command: no background work (the serving process sends what is pending).
    const services = await createServices({ config, storage, clock: systemClock, log: pino({ level: 'silent' }), background: false });
    try {
      const admin = await createAdmin(services.users, { email, username, password, fullName: values['full-name'] ?? null }, { identity: 'email/username', password: 'password' });
      process.stdout.write(`created administrator ${admin.username} <${admin.email}> (id ${admin.id})\n`);
      return 0;
    } finally {
      await services.close();
    }
  } catch (err) {
    if (err instanceof BootstrapError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await storage.close();
  }
}

interface Answers {
  readonly email: string;
  readonly username: string | undefined;
  readonly password: string;
}

/** What the options leave open, from the terminal or piped stdin; an exit code if the passwords differ. */
async function askAnswers(
  prompt: Prompt,
  values: { email?: string; username?: string; 'password-stdin'?: boolean },
): Promise<Answers | number> {
  const email = (values.email ?? (await prompt.ask('Email: '))).trim();
  const username = (values.username ?? (values['password-stdin'] ? '' : await prompt.ask(`Username [${email.split('@')[0]}]: `))).trim() || undefined;
  if (values['password-stdin']) return { email, username, password: await prompt.line() };
  const password = await prompt.askHidden('Password: ');
  if ((await prompt.askHidden('Repeat password: ')) !== password) {
    process.stderr.write('gatehouse: the passwords do not match\n');
    return 1;
  }
  return { email, username, password };
}
