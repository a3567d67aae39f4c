const net = require('net');
const PassiveConnector = require('../../connector/passive');
const replyFor = require('../../helpers/reply-error');
const {unmap} = require('../../helpers/same-address');

module.exports = {
  directive: 'EPSV',
  handler: function ({log, command} = {}) {
    // ingest: RFC 2428 §3: "EPSV ALL" (only EPSV from now on), and the network protocol argument.
    const arg = (command.arg || '').trim().toUpperCase();
    if (arg === 'ALL') {
      this.epsvAll = true;
      return this.reply(200, 'EPSV ALL ok');
    }
    const protocol = net.isIPv6(unmap(this.ip)) ? '2' : '1';
    if (arg && arg !== protocol) return this.reply(522, `Network protocol not supported, use (${protocol})`);

    // ingest: one passive listener per session, as PASV.
    this.connector.end();
    this.connector = new PassiveConnector(this);
    return this.connector.setupServer()
    .then((server) => {
      const {port} = server.address();

      return this.reply(229, `EPSV OK (|||${port}|)`);
    })
    .catch((err) => {
      log.error(err);
      this.connector.end();
      const {code, message} = replyFor(err, 425);
      return this.reply(code, message);
    });
  },
  syntax: '{{cmd}} [<protocol>]',
  description: 'Initiate passive mode',
  flags: {
    feat: 'EPSV'
  }
};
