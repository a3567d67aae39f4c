// ingest: the default logger when none is given, instead of a bunyan logger (bunyan pulled in
// dtrace-provider and moment; every caller of ours passes `log`).
const silentLog = {
  child: () => silentLog,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  fatal: () => undefined
};
module.exports = silentLog;
