// Times as people read them: in the zone of this machine ($TZ), to the
// second, with the offset so that a line pasted into a ticket stays
// unambiguous: "2026-11-30 09:14:03 +01:00". JSON output keeps ISO 8601 UTC.

const pad = (n: number) => String(Math.abs(n)).padStart(2, '0');

export function localTime(time: string | Date): string {
  const d = typeof time === 'string' ? new Date(time) : time;
  if (Number.isNaN(d.getTime())) return String(time);
  // getTimezoneOffset is minutes to add to local time to reach UTC: east of Greenwich is negative.
  const offset = -d.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}`;
}
