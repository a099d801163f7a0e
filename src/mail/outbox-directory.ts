// Where the outbox mailer writes (DATA_DIR/outbox), and the start-up check that it can: kept apart
// from the mailer so a refused start needs neither nodemailer nor the rest of the app.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { makeDirectory } from '../config/make-directory.js';

export function outboxDirectory(dataDir: string): string {
  return join(dataDir, 'outbox');
}

/** Creates the outbox if needed; throws (naming the path) when this process cannot write there. */
export function prepareOutbox(directory: string): void {
  makeDirectory(directory);
  accessSync(directory, constants.W_OK);
}
