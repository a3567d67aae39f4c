const _ = require('lodash');
const Promise = require('bluebird');
const getFileStat = require('../../helpers/file-stat');
const {Transfer, transferError} = require('../../helpers/transfer');

// http://cr.yp.to/ftp/list.html
// http://cr.yp.to/ftp/list/eplf.html
module.exports = {
  directive: 'LIST',
  handler: function ({log, command} = {}) {
    if (!this.fs) return this.reply(550, 'File system not instantiated');
    if (!this.fs.get) return this.reply(402, 'Not supported by file system');
    if (!this.fs.list) return this.reply(402, 'Not supported by file system');

    const simple = command.directive === 'NLST';

    const path = command.arg || '.';
    // ingest: as STOR (helpers/transfer.js).
    let socket;
    return Transfer.run(this, {log, defaultCode: 451}, (transfer) => transfer.connected()
    .then((dataSocket) => {
      socket = dataSocket;
      return Promise.try(() => this.fs.get(path));
    })
    .then((stat) => stat.isDirectory() ? Promise.try(() => this.fs.list(path)) : [stat])
    .then((files) => Promise.all(files.map((file) => {
      if (simple) return file.name;
      return getFileStat(file, _.get(this, 'server.options.file_format', 'ls'));
    })))
    .then((lines) => {
      const text = lines.map((line) => `${line}\r\n`).join('');
      return this.reply(150).then(() => new Promise((resolve, reject) => {
        let finished = false;
        const fail = (err) => {
          socket.destroy();
          reject(err);
        };
        transfer.onAbort(fail);
        socket.on('error', (err) => fail(transferError(426, 'Data connection closed; transfer aborted', err)));
        socket.once('close', () => finished || fail(transferError(426, 'Data connection closed; transfer aborted')));
        transfer.start();
        socket.resume();
        transfer.progress(Buffer.byteLength(text));
        socket.end(text, this.encoding, () => {
          finished = true;
          transfer.done();
          resolve([226]);
        });
      }));
    }));
  },
  syntax: '{{cmd}} [<path>]',
  description: 'Returns information of a file or directory if specified, else information of the current working directory is returned'
};
