const _ = require('lodash');
const tls = require('tls');

module.exports = {
  directive: 'AUTH',
  handler: function ({command} = {}) {
    const method = _.upperCase(command.arg);

    switch (method) {
      // ingest: "AUTH SSL" (the pre-RFC 4217 name) as some cameras send it.
      case 'TLS':
      case 'SSL': return handleTLS.call(this);
      default: return this.reply(504);
    }
  },
  syntax: '{{cmd}} <type>',
  description: 'Set authentication mechanism',
  flags: {
    no_auth: true,
    feat: 'AUTH TLS'
  }
};

function handleTLS() {
  // ingest: FEAT does not offer AUTH TLS then either (feat.js).
  if (!this.server.options.tls) return this.reply(502, 'TLS is not available');
  if (this.secure) return this.reply(503, 'Already using TLS');

  // ingest: connection.js read nothing after the AUTH line and dropped the plaintext that came with it
  // (STARTTLS injection); the client's handshake waits, paused, for the TLS socket below.
  const socket = this.commandSocket;
  return this.reply(234)
  .then(() => {
    // ingest: the reader listens to the TLS socket itself. On the TCP socket it would also get the
    // client's handshake, which the TLS socket takes from the TCP socket's buffer with read(), and
    // read() emits 'data' too.
    socket.removeListener('data', this._onData);
    const secureSocket = new tls.TLSSocket(socket, {
      isServer: true,
      // ingest: built once per certificate (FtpServer.setTls), not per AUTH.
      secureContext: this.server.secureContext
    });
    secureSocket.on('data', this._onData);
    ['timeout', 'end', 'close', 'drain', 'error'].forEach((event) => {
      function forwardEvent() {
        this.emit.apply(this, arguments);
      }
      secureSocket.on(event, forwardEvent.bind(socket, event));
    });
    // ingest: upstream kept a session that never started its handshake open for ever (close()'s 421
    // could not be written before it).
    const handshake = setTimeout(() => socket.destroy(), this.server.options.handshake_timeout);
    secureSocket.once('secure', () => clearTimeout(handshake));
    socket.once('close', () => clearTimeout(handshake));
    this.commandSocket = secureSocket;
    this.secure = true;
  });
}
