// ingest: one way for every handler to answer an error (see CHANGES.md, "Replies").

/** Node's system errors carry the server path in their message ("ENOENT: ..., stat '/srv/...'"). */
const SYSTEM_ERRORS = {
  ENOENT: 'No such file or directory',
  EEXIST: 'File exists',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  ENOTEMPTY: 'Directory not empty',
  EACCES: 'Permission denied',
  EPERM: 'Permission denied',
  ENAMETOOLONG: 'File name too long',
  ELOOP: 'Too many levels of symbolic links',
  ENOSPC: 'Insufficient storage space',
  EDQUOT: 'Insufficient storage space',
  EADDRINUSE: 'Cannot open passive connection',
  EADDRNOTAVAIL: 'Cannot open passive connection'
};
const DEFAULT_TEXT = 'Requested action not taken';

/**
 * The reply for an error a file system, connector or transfer threw: the error's own `replyCode`
 * when it is a 4xx or 5xx (a file system's way to say "451 try later" or "553 bad name"; never a
 * success), else `defaultCode`; and a text without server paths.
 */
module.exports = function replyFor(err, defaultCode) {
  const own = err && err.replyCode;
  const code = Number.isInteger(own) && own >= 400 && own < 600 ? own : defaultCode;
  return {code, message: publicMessage(err)};
};

function publicMessage(err) {
  if (!err) return DEFAULT_TEXT;
  // A programming error's message says nothing the client can use ("Cannot read properties of null").
  if (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError) return DEFAULT_TEXT;
  if (typeof err.code === 'string' && (err.syscall || /^E[A-Z]+$/.test(err.code))) return SYSTEM_ERRORS[err.code] || DEFAULT_TEXT;
  return err.message || DEFAULT_TEXT;
}
module.exports.publicMessage = publicMessage;
