// ingest: replaces helpers/find-port.js (see CHANGES.md, "Passive mode").
const Promise = require('bluebird');
const errors = require('../errors');

/**
 * The passive port range of a server (shared by the servers that use the same range). Upstream
 * probed 5 ports round-robin (bind, close, then listen again: a race), so a range with 5 busy
 * ports answered "400 Unable to find valid port". listen() tries every port of the range that
 * no listener of ours holds, from a random start, and listens on it directly; the port is ours
 * until that server closes.
 */
class PortPool {
  constructor(min, max) {
    this.min = min;
    this.max = max;
    this.inUse = new Set();
  }

  get size() {
    return this.max - this.min + 1;
  }

  /** Ports held by passive listeners right now. */
  get used() {
    return this.inUse.size;
  }

  /** Makes `server` listen on a free port of the range; rejects with a 425 when none is left. */
  listen(server, host) {
    const size = this.size;
    const start = Math.floor(Math.random() * size);
    let tried = 0;
    return new Promise((resolve, reject) => {
      const attempt = (port) => {
        this.inUse.add(port);
        const onListening = () => {
          server.removeListener('error', onError);
          server.once('close', () => this.inUse.delete(port));
          resolve(port);
        };
        const onError = (err) => {
          server.removeListener('listening', onListening);
          this.inUse.delete(port);
          // Another program holds it (or may not be given it): try the next one.
          if (err.code === 'EADDRINUSE' || err.code === 'EACCES') next();
          else reject(err);
        };
        server.once('listening', onListening);
        server.once('error', onError);
        server.listen(port, host);
      };
      const next = () => {
        while (tried < size) {
          const port = this.min + (start + tried++) % size;
          if (!this.inUse.has(port)) return attempt(port);
        }
        reject(Object.assign(new errors.ConnectorError('No passive port available, try again later', 425), {replyCode: 425}));
      };
      next();
    });
  }
}

module.exports = PortPool;
