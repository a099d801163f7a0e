// Fastify makes a child logger for every request, and pino redacts the child's bindings against
// every redaction path when it does — a cost each request paid even when it logged nothing
// (docs/benchmarks.md). This factory hands out a stand-in that creates the real child only when
// something is logged at an enabled level. A class, not a Proxy: nothing is allocated per call.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';

/** Gatehouse's loggers are pino's (src/logging/logger.ts), which can say whether a level is on. */
export function levelEnabled(logger: FastifyBaseLogger, level: string): boolean {
  return (logger as unknown as Logger).isLevelEnabled(level);
}

/** Like levelEnabled, under a narrower floor when one is given (a route's own logLevel, e.g. 'warn' on health probes). */
export function levelEnabledUnder(logger: FastifyBaseLogger, level: string, floor: string | undefined): boolean {
  if (floor !== undefined) {
    const values = (logger as unknown as Logger).levels.values;
    if ((values[level] ?? 0) < (values[floor] ?? 0)) return false;
  }
  return levelEnabled(logger, level);
}

type LogFn = (...args: unknown[]) => void;

class LazyChildLogger {
  private real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindingsOf: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private materialise(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindingsOf, this.options));
  }

  /** A route's own logLevel (e.g. 'warn' on health probes) applies before anything is created. */
  private enabled(level: string): boolean {
    return this.real ? levelEnabled(this.real, level) : levelEnabledUnder(this.parent, level, this.options.level);
  }

  private write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', args: unknown[]): void {
    if (this.enabled(level)) (this.materialise()[level] as LogFn)(...args);
  }

  fatal(...args: unknown[]): void { this.write('fatal', args); }
  error(...args: unknown[]): void { this.write('error', args); }
  warn(...args: unknown[]): void { this.write('warn', args); }
  info(...args: unknown[]): void { this.write('info', args); }
  debug(...args: unknown[]): void { this.write('debug', args); }
  trace(...args: unknown[]): void { this.write('trace', args); }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.materialise().child(bindings, options);
  }

  get level(): string {
    return this.real?.level ?? this.options.level ?? this.parent.level;
  }

  set level(value: string) {
    this.materialise().level = value;
  }

  isLevelEnabled(level: string): boolean {
    return this.enabled(level);
  }

  bindings(): Bindings {
    return (this.materialise() as unknown as Logger).bindings();
  }
}

export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(parent, bindings, options) as unknown as FastifyBaseLogger;
}
