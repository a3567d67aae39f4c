const {transferError} = require('../../helpers/transfer');

// ingest: upstream wrote the 426 onto the data socket and answered only after the transfer, if ever
// (the control socket was paused). RFC 959 §4.1.3: the transfer's command gets 426, then ABOR 226;
// without a transfer, ABOR gets 225. connection.js runs ABOR at once while a transfer is running.
module.exports = {
  directive: 'ABOR',
  handler: function () {
    if (this.transfer) {
      return this.transfer.abort(transferError(426, 'Connection closed; transfer aborted'))
      .then(() => this.reply(226, 'ABOR successful'));
    }
    this.connector.end();
    return this.reply(225, 'No transfer in progress');
  },
  syntax: '{{cmd}}',
  description: 'Abort an active file transfer'
};
