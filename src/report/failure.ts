// A failure of warden's own (not a job's): an `error` event for the log file and the display,
// and one line on stderr, where cron mail and a terminal user see it.
import { msg } from '../messages.js';
import type { Reporter } from './reporter.js';

export function reportFailure(reporter: Reporter, message: string): void {
  reporter.emit({ event: 'error', message });
  reporter.notice(msg.usageError(message));
}
