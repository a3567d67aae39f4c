module.exports = {
  directive: 'PASS',
  handler: function ({log, command} = {}) {
    // ingest: before anything else, so a password sent in clear is never checked.
    if (this.server.options.tls_required && !this.secure) return this.reply(530, 'TLS required: send AUTH TLS first');
    if (!this.username) return this.reply(503);
    if (this.authenticated) return this.reply(202);

    // 332 : require account name (ACCT)

    const password = command.arg;
    if (!password) return this.reply(501, 'Must provide password');
    return this.login(this.username, password)
    .then(() => {
      return this.reply(230);
    })
    .catch((err) => {
      log.error(err);
      // ingest: a login listener may refuse with 421 and end the session (too many attempts, a ban).
      const code = err.replyCode === 421 ? 421 : 530;
      return this.reply(code, err.message || 'Authentication failed')
      .then(() => err.closeConnection && this.close(0));
    });
  },
  syntax: '{{cmd}} <password>',
  description: 'Authentication password',
  flags: {
    no_auth: true
  }
};
