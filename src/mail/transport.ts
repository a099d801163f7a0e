// A nodemailer transport made on first use: nodemailer (and an SMTP connection) cost nothing at
// start-up, and a server that never sends mail never loads it.
import { createRequire } from 'node:module';
import type NodemailerModule from 'nodemailer';
import type { Transporter } from 'nodemailer';

const nodemailer = (): typeof NodemailerModule => createRequire(import.meta.url)('nodemailer') as typeof NodemailerModule;

export interface LazyTransport {
  get(): Transporter;
  close(): void;
}

export function lazyTransport(options: Parameters<typeof NodemailerModule.createTransport>[0]): LazyTransport {
  let transport: Transporter | undefined;
  return {
    get: () => (transport ??= nodemailer().createTransport(options)),
    close: () => transport?.close(),
  };
}
