const ActiveConnector = require('../../connector/active');
const replyFor = require('../../helpers/reply-error');

const FAMILY = {
  1: 4,
  2: 6
};

module.exports = {
  directive: 'EPRT',
  handler: function ({log, command} = {}) {
    if (this.epsvAll) return this.reply(503, 'EPSV ALL in effect: use EPSV');
    const [, protocol, ip, port] = (command.arg || '').split('|');
    const family = FAMILY[protocol];
    if (!family) return this.reply(504, 'Unknown network protocol');

    this.connector.end();
    this.connector = new ActiveConnector(this);
    return this.connector.setupConnection(ip, port, family)
    .then(() => this.reply(200))
    .catch((err) => {
      log.error(err);
      const {code, message} = replyFor(err, 425);
      return this.reply(code, message);
    });
  },
  syntax: '{{cmd}} |<protocol>|<address>|<port>|',
  description: 'Specifies an address and port to which the server should connect'
};
