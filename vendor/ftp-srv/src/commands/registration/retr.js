const Promise = require('bluebird');
const {Transfer, transferError} = require('../../helpers/transfer');

module.exports = {
  directive: 'RETR',
  handler: function ({log, command} = {}) {
    if (!this.fs) return this.reply(550, 'File system not instantiated');
    if (!this.fs.read) return this.reply(402, 'Not supported by file system');

    const filePath = command.arg;
    if (!filePath) return this.reply(501, 'Missing file name');

    // ingest: as STOR (helpers/transfer.js); failures answer 550 (upstream: 551, "page type unknown").
    let socket;
    return Transfer.run(this, {log, defaultCode: 550}, (transfer) => transfer.connected()
    .then((dataSocket) => {
      socket = dataSocket;
      return Promise.try(() => this.fs.read(filePath, {start: this.restByteCount}));
    })
    .then((fsResponse) => {
      let {stream, clientPath} = fsResponse;
      if (!stream && !clientPath) {
        stream = fsResponse;
        clientPath = filePath;
      }
      const serverPath = stream.path || filePath;

      let finished = false;
      let fail;
      const sent = new Promise((resolve, reject) => {
        fail = (err) => {
          if (stream.destroy) stream.destroy();
          socket.destroy();
          reject(err);
        };
        transfer.onAbort(fail);
        stream.on('error', fail);
        socket.on('error', (err) => fail(transferError(426, 'Data connection closed; transfer aborted', err)));
        socket.once('close', () => finished || fail(transferError(426, 'Data connection closed; transfer aborted')));
        stream.once('end', () => transfer.done());
        // ingest: 226 only once every byte is handed to the network, not when the file's last byte is read.
        socket.once('finish', () => {
          finished = true;
          resolve();
        });
      });

      this.restByteCount = 0;

      return this.reply(150).then(() => {
        transfer.start();
        socket.resume();
        stream.on('data', (chunk) => transfer.progress(chunk.length));
        stream.pipe(socket);
      })
      .then(() => sent)
      .tap(() => this.emit('RETR', null, serverPath))
      .then(() => [226, clientPath])
      .finally(() => stream.destroy && stream.destroy());
    })
    .tapCatch((err) => this.emit('RETR', err)));
  },
  syntax: '{{cmd}} <path>',
  description: 'Retrieve a copy of the file'
};
