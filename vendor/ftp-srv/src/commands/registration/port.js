const ActiveConnector = require('../../connector/active');
const replyFor = require('../../helpers/reply-error');

module.exports = {
  directive: 'PORT',
  handler: function ({log, command} = {}) {
    if (this.epsvAll) return this.reply(503, 'EPSV ALL in effect: use EPSV');
    // ingest: a bare PORT threw (null.split) and was never answered.
    const rawConnection = (command.arg || '').split(',');
    if (rawConnection.length !== 6) return this.reply(501, 'Syntax: PORT h1,h2,h3,h4,p1,p2');

    this.connector.end();
    this.connector = new ActiveConnector(this);

    const ip = rawConnection.slice(0, 4).map((b) => parseInt(b)).join('.');
    const portBytes = rawConnection.slice(4).map((p) => parseInt(p));
    const port = portBytes[0] * 256 + portBytes[1];

    return this.connector.setupConnection(ip, port)
    .then(() => this.reply(200))
    .catch((err) => {
      log.error(err);
      const {code, message} = replyFor(err, 425);
      return this.reply(code, message);
    });
  },
  syntax: '{{cmd}} <x>,<x>,<x>,<x>,<y>,<y>',
  description: 'Specifies an address and port to which the server should connect'
};
