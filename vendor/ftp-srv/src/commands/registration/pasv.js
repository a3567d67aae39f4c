const net = require('net');
const Promise = require('bluebird');
const PassiveConnector = require('../../connector/passive');
const {isLocalIP} = require('../../helpers/is-local');
const replyFor = require('../../helpers/reply-error');

module.exports = {
  directive: 'PASV',
  handler: function ({log} = {}) {
    if (!this.server.options.pasv_url) {
      return this.reply(502);
    }
    if (this.epsvAll) return this.reply(503, 'EPSV ALL in effect: use EPSV');

    // ingest: one passive listener per session; the previous one is closed and its port freed
    // (upstream left it listening for 30 s).
    this.connector.end();
    this.connector = new PassiveConnector(this);
    return this.connector.setupServer()
    .then((server) => {
      const {port} = server.address();
      let pasvAddress = this.server.options.pasv_url;
      if (typeof pasvAddress === "function") {
        return Promise.try(() => pasvAddress(this.ip))
          .then((address) => ({address, port}));
      }
      // Allow connecting from local
      if (isLocalIP(this.ip)) pasvAddress = this.ip;
      return {address: pasvAddress, port};
    })
    .then(({address, port}) => {
      // ingest: 227 can only carry an IPv4 address (a host name gave a broken reply, upstream #243).
      if (!net.isIPv4(address)) throw Object.assign(new Error('Passive address is not IPv4: use EPSV'), {replyCode: 425});
      const host = address.replace(/\./g, ',');
      const portByte1 = port / 256 | 0;
      const portByte2 = port % 256;

      return this.reply(227, `PASV OK (${host},${portByte1},${portByte2})`);
    })
    .catch((err) => {
      log.error(err);
      // ingest: whatever failed, the listener goes and the reply is an FTP code with a public text
      // (upstream: "400" and the listen error, or no reply at all when listen() failed).
      this.connector.end();
      const {code, message} = replyFor(err, 425);
      return this.reply(code, message);
    });
  },
  syntax: '{{cmd}}',
  description: 'Initiate passive mode'
};
