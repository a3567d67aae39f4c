const net = require('net');
const tls = require('tls');
const Promise = require('bluebird');

const Connector = require('./base');
const errors = require('../errors');
const sameAddress = require('../helpers/same-address');

const CONNECT_TIMEOUT = 30 * 1000;

class Passive extends Connector {
  constructor(connection) {
    super(connection);
    this.type = 'passive';
    this.accepted = null;
  }

  // ingest: waits on the accepted (and, with PROT P, TLS-established) data socket instead of polling every 50 ms.
  waitForConnection({timeout = 5000} = {}) {
    if (!this.dataServer) return Promise.reject(Object.assign(new errors.ConnectorError('No data connection: send PASV or EPSV first'), {replyCode: 425}));
    return Promise.resolve(this.accepted).timeout(timeout);
  }

  setupServer() {
    this.closeServer();
    const connection = this.connection;
    const server = net.createServer({pauseOnConnect: true});
    this.dataServer = server;
    this.dataSocket = null;
    let accept;
    this.accepted = new Promise((resolve) => {
      accept = resolve;
    });
    let claimed = false;
    let idleServerTimeout;

    server.on('connection', (socket) => {
      // ingest: upstream answered 550 and closed the *session* when anyone else connected to its
      // port. The stranger is dropped and reported; the session keeps waiting for its client.
      if (!sameAddress(connection.ip, socket.remoteAddress)) {
        this.log.error({
          pasv_connection: socket.remoteAddress,
          cmd_connection: connection.ip
        }, 'Connecting addresses do not match');
        const address = socket.remoteAddress;
        socket.destroy();
        this.server.emit('abuse', {connection, address, reason: 'data connection from another address'});
        return;
      }
      // One data connection per PASV/EPSV.
      if (claimed) {
        socket.destroy();
        return;
      }
      claimed = true;
      clearTimeout(idleServerTimeout);
      this.log.trace({port: server.address().port, remoteAddress: socket.remoteAddress}, 'Passive connection fulfilled.');

      socket.on('error', (err) => this.server && this.server.emit('client-error', {connection, context: 'dataSocket', error: err}));
      socket.once('close', () => this.closeServer());

      // ingest: TLS only after the address check (upstream shook hands with strangers first), and
      // only with PROT P (upstream: whenever the control connection was secure), with a deadline.
      // The transfer starts without waiting for the handshake: some clients (lftp) begin it only
      // after the 150 reply; what is written before it is sent once it is done.
      if (connection.dataProtected) {
        const secure = new tls.TLSSocket(socket, {isServer: true, secureContext: this.server.secureContext});
        const handshake = setTimeout(() => socket.destroy(), this.server.options.handshake_timeout);
        secure.once('secure', () => clearTimeout(handshake));
        secure.once('close', () => clearTimeout(handshake));
        secure.on('error', (err) => {
          this.server && this.server.emit('client-error', {connection, context: 'dataSocket', error: err});
          socket.destroy();
        });
        socket = secure;
      }
      this.dataSocket = socket;
      socket.connected = true;
      accept(socket);
    });

    server.on('error', (err) => this.server && this.server.emit('client-error', {connection, context: 'dataServer', error: err}));
    server.once('close', () => {
      this.log.trace('Passive server closed');
      clearTimeout(idleServerTimeout);
      this.end();
    });

    // ingest: a port of the shared pool (helpers/port-pool.js), freed when this server closes.
    return this.server.pasvPorts.listen(server, this.server.url.hostname)
    .then((port) => {
      if (this.dataServer !== server) {
        // Ended while it was starting to listen (the session closed): nobody will use it.
        server.close();
        throw new errors.ConnectorError('Passive connection closed', 425);
      }
      idleServerTimeout = setTimeout(() => this.closeServer(), CONNECT_TIMEOUT);
      this.log.debug({port}, 'Passive connection listening');
      return server;
    })
    .catch((error) => {
      this.log.trace(error.message);
      if (this.dataServer === server) this.dataServer = null;
      throw error;
    });
  }

}
module.exports = Passive;
