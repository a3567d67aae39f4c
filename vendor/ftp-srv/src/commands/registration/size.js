const Promise = require('bluebird');
const replyFor = require('../../helpers/reply-error');

module.exports = {
  directive: 'SIZE',
  handler: function ({log, command} = {}) {
    if (!this.fs) return this.reply(550, 'File system not instantiated');
    if (!this.fs.get) return this.reply(402, 'Not supported by file system');

    return Promise.try(() => this.fs.get(command.arg))
    .then((fileStat) => {
      // ingest: upstream answered "213 4096" for a directory.
      if (fileStat.isDirectory && fileStat.isDirectory()) return this.reply(550, 'Not a plain file');
      return this.reply(213, {message: fileStat.size});
    })
    .catch((err) => {
      log.error(err);
      const {code, message} = replyFor(err, 550);
      return this.reply(code, message);
    });
  },
  syntax: '{{cmd}} <path>',
  description: 'Return the size of a file',
  flags: {
    feat: 'SIZE'
  }
};
