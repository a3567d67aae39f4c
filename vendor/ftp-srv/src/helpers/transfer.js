// ingest: one data transfer of a connection (STOR/APPE/STOU, RETR, LIST/NLST); see CHANGES.md, "Transfers".
const Promise = require('bluebird');
const replyFor = require('./reply-error');

/** An error whose code and text the transfer's command answers with. */
function transferError(code, message, cause) {
  return Object.assign(new Error(message, {cause}), {replyCode: code});
}

/**
 * Upstream paused the control socket for the whole transfer, so ABOR was never read, and the idle
 * timer of the control connection was the only limit on a transfer (re-armed by every byte).
 * A Transfer is registered on the connection while its command runs: ABOR and shutdown abort it,
 * and a watchdog ends it when it is slower than `min_transfer_rate` or moves nothing for
 * `timeout` ms. The control connection's idle timer is off meanwhile.
 */
class Transfer {
  constructor(connection) {
    this.connection = connection;
    this.bytes = 0;
    this.reason = null;
    this.dataDone = false;
    this._aborters = [];
    this._timer = null;
    this.settled = new Promise((resolve) => {
      this._settle = resolve;
    });
  }

  /**
   * Runs `body(transfer)`, which resolves with the final reply `[code, message]`; a failure is
   * answered with the abort reason, else the error's own reply (helpers/reply-error.js) or
   * `defaultCode`. The data connection is closed and the idle timer restored afterwards.
   */
  static run(connection, {log, defaultCode}, body) {
    const transfer = new Transfer(connection);
    const socket = connection.rawSocket;
    connection.transfer = transfer;
    socket.setTimeout(0);
    return Promise.try(() => body(transfer))
    .then(([code, message]) => connection.reply(code, message))
    .catch(Promise.TimeoutError, (err) => {
      log.error(err);
      return connection.reply(425, 'No data connection established');
    })
    .catch((err) => {
      log.error(err);
      const {code, message} = replyFor(transfer.reason || err, defaultCode);
      return connection.reply(code, message);
    })
    .finally(() => {
      transfer._stopWatch();
      if (connection.transfer === transfer) connection.transfer = null;
      connection.connector.end();
      const timeout = connection.server.options.timeout;
      if (timeout > 0 && !socket.destroyed) socket.setTimeout(timeout);
      transfer._settle();
    });
  }

  /**
   * The data connection, once the client has made it (or the abort reason, or a timeout). A
   * connection that closed meanwhile (a failed TLS handshake) is a transfer that cannot start.
   */
  connected() {
    return this.race(this.connection.connector.waitForConnection()).then((socket) => {
      if (socket.destroyed) throw transferError(425, 'Data connection closed before the transfer');
      return socket;
    });
  }

  /** `promise`, or the abort reason if the transfer is aborted first. */
  race(promise) {
    return Promise.race([promise, new Promise((resolve, reject) => this.onAbort(reject))]);
  }

  /** Calls `fn(reason)` when the transfer is aborted (at once if it already was). */
  onAbort(fn) {
    if (this.reason) fn(this.reason);
    else this._aborters.push(fn);
  }

  /**
   * Ends the transfer with `reason` (an error with a replyCode) unless its data has all moved
   * (a STOR being handed over keeps going); resolves once its command has replied.
   */
  abort(reason) {
    if (!this.reason && !this.dataDone) {
      this.reason = reason;
      this._stopWatch();
      this._aborters.splice(0).forEach((fn) => fn(reason));
    }
    return this.settled;
  }

  /** Data starts to move: the watchdog runs from here until done(). */
  start() {
    const {min_transfer_rate: rate, timeout} = this.connection.server.options;
    const checkRate = Boolean(rate && rate.bytesPerSecond > 0 && rate.windowMs > 0);
    if (!checkRate && !(timeout > 0)) return;
    const tick = Math.min(1000, checkRate ? rate.windowMs / 4 : 1000, timeout > 0 ? timeout / 4 : 1000);
    // (time, bytes so far) every tick; the oldest one kept is the newest that is at least a window old.
    const samples = [{at: Date.now(), bytes: 0}];
    this.lastProgressAt = Date.now();
    this._timer = setInterval(() => {
      const now = Date.now();
      if (timeout > 0 && now - this.lastProgressAt >= timeout) {
        this.abort(transferError(426, 'Transfer stalled, data connection closed'));
        return;
      }
      if (!checkRate) return;
      samples.push({at: now, bytes: this.bytes});
      while (samples.length > 1 && now - samples[1].at >= rate.windowMs) samples.shift();
      const elapsed = now - samples[0].at;
      if (elapsed >= rate.windowMs && (this.bytes - samples[0].bytes) * 1000 < rate.bytesPerSecond * elapsed) {
        this.abort(transferError(rate.code || 426, rate.message || 'Transfer too slow, data connection closed'));
      }
    }, tick);
    this._timer.unref();
  }

  progress(bytes) {
    this.bytes += bytes;
    this.lastProgressAt = Date.now();
  }

  /** All data has moved; what is left (a file system finishing the upload) is not aborted. */
  done() {
    this.dataDone = true;
    this._stopWatch();
  }

  _stopWatch() {
    if (this._timer) clearInterval(this._timer);
    this._timer = null;
  }
}

module.exports = {Transfer, transferError};
