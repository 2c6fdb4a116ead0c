// Time zone names, checked without loading the cron library (settings are read on every start).

/** Whether `zone` is an IANA time zone this Node knows (Europe/Berlin, UTC). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
