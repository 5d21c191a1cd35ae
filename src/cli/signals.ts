import type { Logger } from 'pino';

/** Resolves after SIGTERM or SIGINT, once `stop` (which must leave the dataplane alone) has finished. */
export function runUntilSignal(log: Logger, message: string, stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      log.info({ signal }, message);
      void stop().finally(resolve);
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
}
