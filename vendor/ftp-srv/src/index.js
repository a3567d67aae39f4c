const _ = require('lodash');
const Promise = require('bluebird');
const nodeUrl = require('url');
const net = require('net');
const tls = require('tls');
const EventEmitter = require('events');

const Connection = require('./connection');
const PortPool = require('./helpers/port-pool');
const silentLog = require('./helpers/silent-log');

/** ingest: how long shutdown() looks again whether a session has finished its command. */
const DRAIN_POLL_MS = 50;
/** ingest: how long shutdown() waits for an aborted transfer's reply (a file system may still be finishing an upload). */
const ABORT_WAIT_MS = 2000;

class FtpServer extends EventEmitter {
  constructor(options = {}) {
    super();
    this.options = Object.assign({
      log: silentLog,
      url: 'ftp://127.0.0.1:21',
      pasv_min: 1024,
      pasv_max: 65535,
      pasv_url: null,
      anonymous: false,
      file_format: 'ls',
      blacklist: [],
      whitelist: [],
      greeting: null,
      tls: false,
      timeout: 0,
      // ingest: options of ours, documented in ftp-srv.d.ts and CHANGES.md.
      pasv_pool: null,
      tls_required: false,
      handshake_timeout: 10000,
      max_command_bytes: 2048,
      min_transfer_rate: null,
      name_policy: null,
      admit: null,
      endOnProcessSignal: true
    }, options);

    this._greeting = this.setupGreeting(this.options.greeting);
    this._features = this.setupFeaturesMessage();

    delete this.options.greeting;

    this.connections = {};
    this.log = this.options.log;
    this.url = nodeUrl.parse(this.options.url);
    // ingest: one pool of passive ports, which servers on the same range share (helpers/port-pool.js).
    this.pasvPorts = this.options.pasv_pool || new PortPool(this.options.pasv_min, this.options.pasv_max);
    // ingest: built once per certificate for AUTH TLS and every data connection (upstream: on each use).
    this.secureContext = this.options.tls ? tls.createSecureContext(this.options.tls) : null;
    this.draining = false;

    const timeout = Number(this.options.timeout);
    this.options.timeout = isNaN(timeout) ? 0 : Number(timeout);

    const serverConnectionHandler = (socket) => {
      // ingest: the `admit` option may turn a connection away; its reply is the first and only thing
      // the client hears (upstream had no hook before the greeting: a refusal came after "220").
      const refusal = this.draining ? {code: 421, message: 'Service shutting down, try again later'}
        : this.options.admit ? this.options.admit(socket) : null;
      if (refusal) {
        socket.on('error', () => undefined);
        socket.end(`${refusal.code} ${refusal.message}\r\n`);
        setTimeout(() => socket.destroy(), 1000).unref();
        return;
      }
      this.options.timeout > 0 && socket.setTimeout(this.options.timeout);
      let connection = new Connection(this, {log: this.log, socket});
      this.connections[connection.id] = connection;

      socket.on('close', () => this.disconnectClient(connection.id));
      socket.once('close', () => {
        this.emit('disconnect', {connection, id: connection.id, newConnectionCount: Object.keys(this.connections).length});
      })
      
      this.emit('connect', {connection, id: connection.id, newConnectionCount: Object.keys(this.connections).length});

      const greeting = this._greeting || [];
      const features = this._features || 'Ready';
      return connection.reply(220, ...greeting, features)
        .then(() => socket.resume());
    };
    // ingest: implicit TLS gets a handshake deadline (Node's default is 120 s).
    const serverOptions = Object.assign({}, this.isTLS ? this.options.tls : {}, {pauseOnConnect: true},
      this.isTLS ? {handshakeTimeout: this.options.handshake_timeout} : {});

    this.server = (this.isTLS ? tls : net).createServer(serverOptions, serverConnectionHandler);
    this.server.on('error', (err) => {
      this.log.error(err, '[Event] error');
      this.emit('server-error', {error: err});
    });
    // ingest: Node reports a failed or timed-out handshake but leaves the connection open.
    if (this.isTLS) this.server.on('tlsClientError', (err, socket) => socket.destroy());

    // ingest: as upstream main's `endOnProcessSignal` (QuorumDMS/ftp-srv#280): an application that
    // shuts down in order itself turns these off.
    if (this.options.endOnProcessSignal) {
      const quit = _.debounce(this.quit.bind(this), 100);

      process.on('SIGTERM', quit);
      process.on('SIGINT', quit);
      process.on('SIGQUIT', quit);
    }
  }

  get isTLS() {
    return this.url.protocol === 'ftps:' && this.options.tls;
  }

  listen() {
    if (!this.options.pasv_url) {
      this.log.warn('Passive URL not set. Passive connections not available.');
    }

    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.url.port, this.url.hostname, (err) => {
        this.server.removeListener('error', reject);
        if (err) return reject(err);
        this.log.info({
          protocol: this.url.protocol.replace(/\W/g, ''),
          ip: this.url.hostname,
          port: this.url.port
        }, 'Listening');
        resolve('Listening');
      });
    });
  }

  emitPromise(action, ...data) {
    return new Promise((resolve, reject) => {
      const params = _.concat(data, [resolve, reject]);
      this.emit.call(this, action, ...params);
    });
  }

  /**
   * ingest: replaces the certificate for new control and data connections (sessions already in TLS
   * keep theirs). Throws, changing nothing, when the certificate and key do not make a context.
   */
  setTls(tlsOptions) {
    const secureContext = tls.createSecureContext(tlsOptions);
    this.options.tls = Object.assign({}, this.options.tls, tlsOptions);
    this.secureContext = secureContext;
    if (this.isTLS) this.server.setSecureContext(this.options.tls);
  }

  /** ingest: the bound address of the control listener. */
  address() {
    return this.server.address();
  }

  /** ingest: no new connections; sessions carry on. */
  stopListening() {
    if (this.server.listening) this.server.close();
  }

  /**
   * ingest: stops accepting connections; data commands get 421; the command each session is running
   * (a transfer, a file system finishing an upload) gets up to `drainMs`, after which running
   * transfers are aborted (426); then every session hears 421 and the server closes.
   */
  shutdown({drainMs = 0, message = 'Service shutting down, try again later'} = {}) {
    this.draining = true;
    this.stopListening();
    const deadline = Date.now() + drainMs;
    const connections = () => Object.values(this.connections);
    const waitForCommands = () => {
      if (connections().every((connection) => !connection.busy) || Date.now() >= deadline) return Promise.resolve();
      return Promise.delay(DRAIN_POLL_MS).then(waitForCommands);
    };
    const aborted = Object.assign(new Error('Transfer aborted: service shutting down'), {replyCode: 426});
    return waitForCommands()
    .then(() => Promise.all(connections().map((connection) => connection.transfer &&
      Promise.resolve(connection.transfer.abort(aborted)).timeout(ABORT_WAIT_MS).catch(() => undefined))))
    .then(() => Promise.all(connections().map((connection) => connection.close(421, message))))
    .then(() => this.close());
  }

  setupGreeting(greet) {
    if (!greet) return [];
    const greeting = Array.isArray(greet) ? greet : greet.split('\n');
    return greeting;
  }

  setupFeaturesMessage() {
    let features = [];
    if (this.options.anonymous) features.push('a');

    if (features.length) {
      features.unshift('Features:');
      features.push('.');
    }
    return features.length ? features.join(' ') : 'Ready';
  }

  disconnectClient(id) {
    return new Promise((resolve) => {
      const client = this.connections[id];
      if (!client) return resolve();
      delete this.connections[id];

      // ingest: upstream armed a timer here that it never cleared (resolve comes first): it only kept
      // the process alive for up to `timeout` after the last session.
      try {
        client.close(0);
      } catch (err) {
        this.log.error(err, 'Error closing connection', {id});
      }
      
      resolve('Disconnected');
    });
  }

  quit() {
    return this.close()
    .then(() => process.exit(0));
  }

  close() {
    this.server.maxConnections = 0;
    this.emit('closing');
    this.log.info('Closing connections:', Object.keys(this.connections).length);

    return Promise.all(Object.keys(this.connections).map((id) => this.disconnectClient(id)))
    .then(() => new Promise((resolve) => {
      // ingest: stopListening() may have closed it already; closing twice was logged as an error.
      if (!this.server.listening) return resolve('Closed');
      this.server.close((err) => {
        this.log.info('Server closing...');
        if (err) this.log.error(err, 'Error closing server');
        resolve('Closed');
      });
    }))
    .then(() => {
      this.log.debug('Removing event listeners...')
      this.emit('closed', {});
      this.removeAllListeners();
      return;
    });
  }

}
module.exports = FtpServer;
