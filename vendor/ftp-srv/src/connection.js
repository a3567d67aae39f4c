const _ = require('lodash');
const {randomUUID} = require('crypto');
const Promise = require('bluebird');
const EventEmitter = require('events');

const BaseConnector = require('./connector/base');
const FileSystem = require('./fs');
const Commands = require('./commands');
const errors = require('./errors');
const DEFAULT_MESSAGE = require('./messages');

// ingest: the control-line reader (see CHANGES.md, "Control connection").
const LF = 0x0a;
const CR = 0x0d;
const IAC = 0xff;
const EMPTY = Buffer.alloc(0);
const UTF8 = new TextDecoder('utf-8', {fatal: true});
/** C0 controls and DEL: never part of a command (RFC 959 has no use for them; NUL ends C strings). */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
/** Lines read ahead of the command in progress before the socket stops being read. */
const MAX_QUEUED_LINES = 32;
/** A reply that cannot be written in this long (a peer that reads nothing, an unfinished TLS handshake) does not hold close(). */
const CLOSE_REPLY_MS = 2000;

/**
 * Telnet commands are not part of a command line (RFC 959 §4.1.3: clients may send ABOR as
 * IAC IP IAC DM ABOR). IAC followed by 0xF0-0xFF is a two-byte command, WILL/WONT/DO/DONT take an
 * option byte; a stray IAC alone is dropped.
 */
function stripTelnet(bytes) {
  if (!bytes.includes(IAC)) return bytes;
  const out = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== IAC) {
      out.push(bytes[i]);
      continue;
    }
    const next = bytes[i + 1];
    if (next >= 0xfb && next <= 0xfe) i += 2;
    else if (next >= 0xf0) i += 1;
  }
  return Buffer.from(out);
}

class FtpConnection extends EventEmitter {
  constructor(server, options) {
    super();
    this.server = server;
    this.id = randomUUID();
    this.commandSocket = options.socket;
    // ingest: the TCP socket, also after AUTH TLS has put a TLS socket in commandSocket; it holds the idle timer.
    this.rawSocket = options.socket;
    // ingest: kept, because a closed socket forgets its remoteAddress and 'disconnect' listeners need it.
    this._ip = options.socket.remoteAddress;
    this.log = options.log.child({id: this.id, ip: this.ip});
    this.commands = new Commands(this);
    this.transferType = 'binary';
    this.encoding = 'utf8';
    this.bufferSize = false;
    this._restByteCount = 0;
    this._secure = false;
    // ingest: PROT level of data connections (RFC 4217): clear until PROT P, protected from the start on implicit TLS.
    this.protection = server.isTLS ? 'P' : 'C';
    // ingest: the data transfer in progress (helpers/transfer.js), so ABOR and shutdown can end it.
    this.transfer = null;
    this._input = EMPTY;
    this._discarding = false;
    this._queue = [];
    this._running = false;
    this._awaitingAuth = false;
    this._holding = false;

    this.connector = new BaseConnector(this);

    this.commandSocket.on('error', (err) => {
      this.log.error(err, 'Client error');
      this.server.emit('client-error', {connection: this, context: 'commandSocket', error: err});
    });
    // ingest: kept, so that AUTH TLS can move it from the TCP socket to the TLS socket.
    this._onData = this._handleData.bind(this);
    this.commandSocket.on('data', this._onData);
    this.commandSocket.on('timeout', () => {
      // ingest: while data flows the transfer's own watchdog decides (helpers/transfer.js).
      if (this.transfer) return;
      this.log.trace('Client timeout');
      this.close(421, 'Idle timeout, closing control connection');
    });
    this.commandSocket.on('close', () => {
      if (this.connector) this.connector.end();
      if (this.commandSocket && !this.commandSocket.destroyed) this.commandSocket.destroy();
      this.removeAllListeners();
    });
  }

  /**
   * ingest: upstream split each TCP read on CRLF and ran the pieces concurrently. Input is now kept
   * until a line ends (LF, with or without CR), lines run one after another and every one gets a
   * reply; only ABOR during a transfer runs at once (RFC 959 §4.1.3).
   */
  _handleData(data) {
    let input = this._input.length ? Buffer.concat([this._input, data]) : data;
    let end;
    while (!this._awaitingAuth && (end = input.indexOf(LF)) !== -1) {
      const line = input.subarray(0, end);
      input = input.subarray(end + 1);
      if (this._discarding) this._discarding = false;
      else this._acceptLine(line);
    }
    if (this._awaitingAuth) {
      // STARTTLS injection (CVE-2011-0411 class): whatever came after AUTH in plaintext is dropped, and
      // nothing more is read until AUTH is answered; the TLS socket then takes the client's handshake.
      input = EMPTY;
    } else if (this._discarding) {
      input = EMPTY;
    } else if (input.length > this.server.options.max_command_bytes) {
      this._discarding = true;
      input = EMPTY;
      this._refuse(500, 'Command line too long', 'command line too long');
    }
    this._input = input;
    this._updateReading();
  }

  _acceptLine(line) {
    let bytes = stripTelnet(line);
    if (bytes.length && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    if (!bytes.length) return;
    if (bytes.length > this.server.options.max_command_bytes) return this._refuse(500, 'Command line too long', 'command line too long');
    let text;
    try {
      text = UTF8.decode(bytes);
    } catch (err) {
      return this._refuse(501, 'Invalid UTF-8 in command', 'invalid UTF-8');
    }
    if (CONTROL_CHARACTERS.test(text)) return this._refuse(501, 'Control characters are not allowed in commands', 'control characters');
    const command = this.commands.parse(text);
    if (command.directive === 'ABOR' && this.transfer) {
      this._dispatch(command);
      return;
    }
    if (command.directive === 'AUTH') this._awaitingAuth = true;
    this._queue.push({command});
    this._next();
  }

  /** A line that is not a command: answered in its turn, and reported as abuse. */
  _refuse(code, message, reason) {
    this._queue.push({refusal: {code, message, reason}});
    this._next();
  }

  /** Reading stops while AUTH is answered and while too many lines wait; it resumes only what it paused. */
  _updateReading() {
    const socket = this.commandSocket;
    if (!socket || socket.destroyed) return;
    const hold = this._awaitingAuth || this._queue.length >= MAX_QUEUED_LINES;
    if (hold && !this._holding) {
      this._holding = true;
      socket.pause();
    } else if (!hold && this._holding) {
      this._holding = false;
      socket.resume();
    }
  }

  _next() {
    if (this._running || !this._queue.length) return;
    const item = this._queue.shift();
    this._running = true;
    Promise.try(() => {
      if (item.refusal) {
        const {code, message, reason} = item.refusal;
        this.server.emit('abuse', {connection: this, address: this.ip, reason});
        return this.reply(code, message);
      }
      return this._execute(item.command);
    })
    .catch((err) => this._internalError(err))
    .finally(() => {
      if (item.command && item.command.directive === 'AUTH') {
        this._awaitingAuth = false;
        this._input = EMPTY;
      }
      this._running = false;
      this._updateReading();
      this._next();
    });
  }

  _execute(command) {
    // Directives that open or use a data connection are refused while the server drains.
    if (this.server.draining && Commands.DATA_DIRECTIVES.includes(command.directive)) {
      return this.close(421, 'Service shutting down, try again later');
    }
    return this.commands.handle(command);
  }

  _dispatch(command) {
    return Promise.try(() => this.commands.handle(command)).catch((err) => this._internalError(err));
  }

  /** ingest: a handler that throws or rejects still answers, with a text that names nothing of the server. */
  _internalError(err) {
    this.log.error(err, 'Command failed');
    return this.reply(451, 'Requested action aborted: local error in processing');
  }

  get ip() {
    return this._ip;
  }

  get restByteCount() {
    return this._restByteCount > 0 ? this._restByteCount : undefined;
  }
  set restByteCount(rbc) {
    this._restByteCount = rbc;
  }

  get secure() {
    return this.server.isTLS || this._secure;
  }
  set secure(sec) {
    this._secure = sec;
  }

  /** ingest: running a command (or a transfer); shutdown() lets it finish. */
  get busy() {
    return this._running || Boolean(this.transfer);
  }

  /** ingest: whether data connections use TLS: a secure control connection and PROT P. */
  get dataProtected() {
    return this.secure && this.protection === 'P';
  }

  close(code = 421, message = 'Closing connection') {
    const socket = this.commandSocket;
    return Promise.resolve(code)
      // ingest: a reply that cannot be written (no TLS handshake after AUTH, a peer that reads nothing) no longer keeps the session.
      .then((_code) => _code && this.reply(_code, message).timeout(CLOSE_REPLY_MS).catch(() => undefined))
      .then(() => {
        if (socket) socket.destroy();
        if (this.rawSocket && this.rawSocket !== socket) this.rawSocket.destroy();
      });
  }

  login(username, password) {
    return Promise.try(() => {
      const loginListeners = this.server.listeners('login');
      if (!loginListeners || !loginListeners.length) {
        if (!this.server.options.anonymous) throw new errors.GeneralError('No "login" listener setup', 500);
      } else {
        return this.server.emitPromise('login', {connection: this, username, password});
      }
    })
    .then(({root, cwd, fs, blacklist = [], whitelist = []} = {}) => {
      this.authenticated = true;
      this.commands.blacklist = _.concat(this.commands.blacklist, blacklist);
      this.commands.whitelist = _.concat(this.commands.whitelist, whitelist);
      this.fs = fs || new FileSystem(this, {root, cwd});
    });
  }

  /**
   * ingest: a reply is one line (a message with CR/LF would forge further replies), and it never
   * names where the account's files live on the server, whatever a file system put in a message.
   */
  _publicText(message) {
    let text = String(message).replace(/[\r\n]+/g, ' ');
    const root = this.fs && this.fs.root;
    if (root && root !== '/') text = text.split(`${root}/`).join('/').split(root).join('/');
    return text;
  }

  reply(options = {}, ...letters) {
    const satisfyParameters = () => {
      if (typeof options === 'number') options = {code: options}; // allow passing in code as first param
      if (!Array.isArray(letters)) letters = [letters];
      if (!letters.length) letters = [{}];
      return Promise.map(letters, (promise, index) => {
        return Promise.resolve(promise)
        .then((letter) => {
          if (!letter) letter = {};
          else if (typeof letter === 'string') letter = {message: letter}; // allow passing in message as first param

          if (!letter.socket) letter.socket = options.socket ? options.socket : this.commandSocket;
          if (!options.useEmptyMessage) {
            if (!letter.message) letter.message = DEFAULT_MESSAGE[options.code] || 'No information';
            if (!letter.encoding) letter.encoding = this.encoding;
          }
          return Promise.resolve(letter.message) // allow passing in a promise as a message
          .then((message) => {
            if (!options.useEmptyMessage) {
              const seperator = !options.hasOwnProperty('eol') ?
                letters.length - 1 === index ? ' ' : '-' :
                options.eol ? ' ' : '-';
              message = !letter.raw ? _.compact([letter.code || options.code, message]).join(seperator) : message;
              letter.message = letter.socket === this.commandSocket ? this._publicText(message) : message;
            } else {
              letter.message = '';
            }
            return letter;
          });
        });
      });
    };

    const processLetter = (letter) => {
      return new Promise((resolve, reject) => {
        if (letter.socket && letter.socket.writable) {
          this.log.trace({port: letter.socket.address().port, encoding: letter.encoding, message: letter.message}, 'Reply');
          letter.socket.write(letter.message + '\r\n', letter.encoding, (error) => {
            if (error) {
              this.log.error('[Process Letter] Socket Write Error', { error: error.message });
              return reject(error);
            }
            resolve();
          });
        } else {
          this.log.trace({message: letter.message}, 'Could not write message');
          reject(new errors.SocketError('Socket not writable'));
        }
      });
    };

    return satisfyParameters()
    .then((satisfiedLetters) => Promise.mapSeries(satisfiedLetters, (letter, index) => {
      return processLetter(letter, index);
    }))
    .catch((error) => {
        this.log.error('Satisfy Parameters Error', { error: error.message });
    });
  }
}
module.exports = FtpConnection;
