// pino options for the whole process: JSON lines, secrets redacted, request lines without
// headers or query secrets.
import type { FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';
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
