const Promise = require('bluebird');
const {Transfer, transferError} = require('../../helpers/transfer');

module.exports = {
  directive: 'STOR',
  handler: function ({log, command} = {}) {
    if (!this.fs) return this.reply(550, 'File system not instantiated');
    if (!this.fs.write) return this.reply(402, 'Not supported by file system');

    const append = command.directive === 'APPE';
    const fileName = command.arg;
    if (!fileName) return this.reply(501, 'Missing file name');

    // ingest: the control socket is no longer paused, so ABOR is read; see helpers/transfer.js.
    let socket;
    return Transfer.run(this, {log, defaultCode: 550}, (transfer) => transfer.connected()
    .then((dataSocket) => {
      socket = dataSocket;
      return Promise.try(() => this.fs.write(fileName, {append, start: this.restByteCount}));
    })
    .then((fsResponse) => {
      let {stream, clientPath} = fsResponse;
      if (!stream && !clientPath) {
        stream = fsResponse;
        clientPath = fileName;
      }
      const serverPath = stream.path || fileName;

      const received = new Promise((resolve, reject) => {
        let ended = false;
        // ingest: every failure destroys both ends; the stream is never end()ed on a failure, which
        // would have finished (and handed over) a broken-off upload.
        const fail = (err) => {
          socket.destroy();
          if (!stream.destroyed && stream.destroy) stream.destroy(err);
          reject(err);
        };
        transfer.onAbort(fail);
        stream.on('error', fail);
        stream.once('finish', () => resolve());
        socket.on('data', (chunk) => transfer.progress(chunk.length));
        socket.once('end', () => {
          ended = true;
          transfer.done();
          stream.end();
        });
        socket.on('error', (err) => fail(transferError(426, 'Data connection closed; transfer aborted', err)));
        // ingest: a data connection closed without EOF (reset, ABOR) is a broken-off upload, never
        // finished. When the client vanished (its control connection closed and took the data
        // connection along), the stream is ended instead: every byte received stays for a resume,
        // and a file system can tell from the dead control connection that the upload is incomplete.
        socket.once('close', () => {
          if (ended) return;
          if (this.commandSocket.destroyed && !transfer.reason) stream.end();
          else fail(transferError(426, 'Data connection closed; transfer aborted'));
        });
        socket.pipe(stream, {end: false});
      });

      this.restByteCount = 0;

      return this.reply(150).then(() => {
        transfer.start();
        socket.resume();
      })
      .then(() => received)
      .tap(() => this.emit('STOR', null, serverPath))
      .then(() => [226, clientPath])
      .finally(() => stream.destroy && stream.destroy());
    })
    .tapCatch((err) => this.emit('STOR', err)));
  },
  syntax: '{{cmd}} <path>',
  description: 'Store data as a file at the server site'
};
