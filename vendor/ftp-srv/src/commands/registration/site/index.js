const Promise = require('bluebird');

const registry = require('./registry');

module.exports = {
  directive: 'SITE',
  handler: function ({log, command} = {}) {
    // ingest: a bare SITE threw (null.replace) and was never answered; unknown ones are named.
    if (!command.arg) return this.reply(501, 'SITE needs a sub-command: SITE CHMOD <mode> <file>');
    const subCommand = this.commands.parse(command.arg);
    const subLog = log.child({subverb: subCommand.directive});

    if (!registry.hasOwnProperty(subCommand.directive)) return this.reply(502, `SITE ${subCommand.directive} is not supported`);

    const handler = registry[subCommand.directive].handler.bind(this);
    return Promise.resolve(handler({log: subLog, command: subCommand}));
  },
  syntax: '{{cmd}} <subVerb> [...<subParams>]',
  description: 'Sends site specific commands to remote server'
};
