// pino options for the whole process: JSON lines, secrets redacted, request lines without
// headers or query secrets.
import type { FastifyRequest } from 'fastify';
import { destination, type DestinationStream, type LoggerOptions } from 'pino';
import type { LogLevel } from '../config/index.js';
import { REDACT_PATHS, redactUrl } from './redaction.js';

export function loggerOptions(level: LogLevel): LoggerOptions {
  return {
    level,
    base: { service: 'gatehouse' },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    serializers: {
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: redactUrl(req.url),
        ip: req.clientIp ?? req.ip,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  };
}

/**
 * Standard output, written asynchronously: a line no longer costs a write system call on the
 * request's path. Writes made while one is in flight are joined into one, so under load lines are
 * batched, and at rest each line still goes out at once. Flushed when the process exits.
 */
export function stdoutLog(): DestinationStream & { flushSync(): void } {
  return destination({ dest: 1, sync: false });
}
