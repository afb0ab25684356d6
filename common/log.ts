/**
 * The service logger: pino JSON lines. Tokens are never logged; `redact` is a second line of
 * defence for the headers that carry them.
 *
 * @example
 * ```ts
 * const log = createLogger('info');
 * log.info({ policy: 'JWTPolicy/ns/a' }, 'snapshot loaded');
 * ```
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.JWTGATE_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'jwtgate' },
    redact: { paths: ['token', '*.token', 'headers.authorization', 'headers.cookie'], censor: '[redacted]' },
  });
}
