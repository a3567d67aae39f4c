const Promise = require('bluebird');
const {mdtmTime} = require('../../helpers/time-format');
const replyFor = require('../../helpers/reply-error');

module.exports = {
  directive: 'MDTM',
  handler: function ({log, command} = {}) {
    if (!this.fs) return this.reply(550, 'File system not instantiated');
    if (!this.fs.get) return this.reply(402, 'Not supported by file system');

    return Promise.try(() => this.fs.get(command.arg))
    .then((fileStat) => {
      const modificationTime = mdtmTime(fileStat.mtime);
      return this.reply(213, modificationTime);
    })
    .catch((err) => {
      log.error(err);
      const {code, message} = replyFor(err, 550);
      return this.reply(code, message);
    });
  },
  syntax: '{{cmd}} <path>',
  description: 'Return the last-modified time of a specified file',
  flags: {
    feat: 'MDTM'
  }
};
