const Promise = require('bluebird');
const replyFor = require('../../../helpers/reply-error');

/** ingest: set-uid, set-gid and sticky bits (upstream: any mode, `SITE CHMOD 4755 f` made a set-uid file). */
const SPECIAL_BITS = 0o7000;

module.exports = function ({log, command} = {}) {
  if (!this.fs) return this.reply(550, 'File system not instantiated');
  if (!this.fs.chmod) return this.reply(402, 'Not supported by file system');

  const match = /^([0-7]{3,4}) (.+)$/.exec(command.arg || '');
  if (!match) return this.reply(501, 'Syntax: SITE CHMOD <octal mode> <file>');
  const mode = parseInt(match[1], 8);
  const fileName = match[2];
  if (mode & SPECIAL_BITS) return this.reply(550, 'Set-uid, set-gid and sticky bits cannot be set');
  const refusal = this.commands.checkName(fileName);
  if (refusal) return this.reply(553, refusal);
  // ingest: the home itself keeps its mode (upstream: `SITE CHMOD 000 /` locked the account out).
  if (this.fs._resolvePath && this.fs._resolvePath(fileName).clientPath === '/') return this.reply(550, 'Permission denied');

  return Promise.try(() => this.fs.chmod(fileName, mode))
  .then(() => {
    return this.reply(200, 'SITE CHMOD command successful');
  })
  .catch((err) => {
    log.error(err);
    const {code, message} = replyFor(err, 550);
    return this.reply(code, message);
  });
};
