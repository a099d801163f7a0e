// Fastify makes a child logger for every request, and pino redacts the child's bindings against
// every redaction path when it does — a cost each request paid even when it logged nothing
// (docs/benchmarks.md). This factory hands out a stand-in that creates the real child only when
// something is logged at an enabled level.
import type { FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';

/** Gatehouse's loggers are pino's (src/logging/logger.ts), which can say whether a level is on. */
export function levelEnabled(logger: FastifyBaseLogger, level: string): boolean {
  return (logger as unknown as Logger).isLevelEnabled(level);
}

const LOG_METHODS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

type Bindings = Record<string, unknown>;

export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, options: object): FastifyBaseLogger {
  let real: FastifyBaseLogger | undefined;
  const materialise = (): FastifyBaseLogger => (real ??= parent.child(bindings, options));
  const target = {} as FastifyBaseLogger;
  return new Proxy(target, {
    get(_target, property) {
      if (real === undefined && property === 'child') {
        return (...args: Parameters<FastifyBaseLogger['child']>) => materialise().child(...args);
      }
      if (real === undefined && typeof property === 'string' && LOG_METHODS.has(property)) {
        return (...args: unknown[]) => {
          if (property !== 'silent' && !levelEnabled(parent, property)) return;
          const logger = materialise() as unknown as Record<string, (...a: unknown[]) => void>;
          logger[property]!(...args);
        };
      }
      const logger = materialise() as unknown as Record<PropertyKey, unknown>;
      const value = logger[property];
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(logger) : value;
    },
    set(_target, property, value) {
      (materialise() as unknown as Record<PropertyKey, unknown>)[property] = value;
      return true;
    },
  });
}
