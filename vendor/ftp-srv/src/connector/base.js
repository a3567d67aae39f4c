const Promise = require('bluebird');
const errors = require('../errors');

/** ingest: a data socket that cannot flush its last bytes (a peer that reads nothing) is destroyed after this long. */
const CLOSE_SOCKET_MS = 5000;

class Connector {
  constructor(connection) {
    this.connection = connection;

    this.dataSocket = null;
    this.dataServer = null;
    this.type = false;
  }

  get log() {
    return this.connection.log;
  }

  get socket() {
    return this.dataSocket;
  }

  get server() {
    return this.connection.server;
  }

  waitForConnection() {
    // ingest: answered 425 (upstream: 550, as if the file were missing).
    return Promise.reject(Object.assign(new errors.ConnectorError('No data connection: send PASV or EPSV first'), {replyCode: 425}));
  }

  closeSocket() {
    if (this.dataSocket) {
      const socket = this.dataSocket;
      this.dataSocket = null;
      if (socket.destroyed) return;
      socket.end(() => socket.destroy());
      setTimeout(() => socket.destroy(), CLOSE_SOCKET_MS).unref();
    }
  }

  closeServer() {
    if (this.dataServer) {
      this.dataServer.close();
      this.dataServer = null;
    }
  }


  end() {
    this.closeSocket();
    this.closeServer();

    this.type = false;
    // ingest: upstream passed the connector as the connection here, and a replaced connector's late
    // end() (its server's 'close') reset the connection's new connector.
    if (this.connection.connector === this) this.connection.connector = new Connector(this.connection);
  }
}
module.exports = Connector;
