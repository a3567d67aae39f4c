module.exports = {
  directive: 'USER',
  handler: function ({log, command} = {}) {
    // ingest: a client may start over with another USER after a refused PASS (upstream: 530 for ever).
    if (this.authenticated) return this.reply(230);
    if (this.server.options.tls_required && !this.secure) return this.reply(530, 'TLS required: send AUTH TLS first');

    this.username = command.arg;
    if (!this.username) return this.reply(501, 'Must provide username');

    if (this.server.options.anonymous === true && this.username === 'anonymous' ||
        this.username === this.server.options.anonymous) {
      return this.login(this.username, '@anonymous')
      .then(() => {
        return this.reply(230);
      })
      .catch((err) => {
        log.error(err);
        return this.reply(530, err.message || 'Authentication failed');
      });
    }
    return this.reply(331);
  },
  syntax: '{{cmd}} <username>',
  description: 'Authentication username',
  flags: {
    no_auth: true
  }
};
