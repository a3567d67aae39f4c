// ingest: the three time formats ftp-srv took from moment, in UTC.
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** GNU ls shows the year instead of the time for files older than half a Gregorian year. */
const HALF_YEAR_MS = 15778476 * 1000;

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** `ls -l`: "Mar 05 14:07" within the last half year (or in the future), else "Mar 05  2019". */
function lsTime(date, now = new Date()) {
  const day = `${MONTHS[date.getUTCMonth()]} ${pad(date.getUTCDate())}`;
  return now - date < HALF_YEAR_MS
    ? `${day} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}`
    : `${day}  ${date.getUTCFullYear()}`;
}

/** RFC 3659 MDTM: YYYYMMDDHHMMSS.sss */
function mdtmTime(value) {
  const d = new Date(value);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/** EPLF's m fact: whole seconds since the epoch. */
function unixSeconds(date) {
  return Math.floor(date.getTime() / 1000);
}

module.exports = {lsTime, mdtmTime, unixSeconds};
