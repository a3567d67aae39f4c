const _ = require('lodash');
const Promise = require('bluebird');

const REGISTRY = require('./registry');

/** ingest: ls-style options ("LIST -la"), taken only from the start of LIST, NLST and STAT arguments. */
const LS_FLAGS = /^(-\w+)(?: +|$)/;
const LS_DIRECTIVES = ['LIST', 'NLST', 'STAT'];
/** ingest: directives whose argument is a path, checked by the `name_policy` option. */
const PATH_DIRECTIVES = ['STOR', 'APPE', 'STOU', 'RETR', 'DELE', 'RMD', 'XRMD', 'MKD', 'XMKD', 'CWD', 'XCWD', 'RNFR', 'RNTO', 'SIZE', 'MDTM', 'LIST', 'NLST', 'STAT'];
/** ingest: directives that use a data connection: with `tls_required` they need PROT P (RFC 4217 §9: 521). */
const DATA_DIRECTIVES = ['STOR', 'APPE', 'STOU', 'RETR', 'LIST', 'NLST', 'PASV', 'EPSV', 'PORT', 'EPRT'];

class FtpCommands {
  constructor(connection) {
    this.connection = connection;
    this.previousCommand = {};
    this.blacklist = _.get(this.connection, 'server.options.blacklist', []).map((cmd) => _.upperCase(cmd));
    this.whitelist = _.get(this.connection, 'server.options.whitelist', []).map((cmd) => _.upperCase(cmd));
  }

  /**
   * ingest: the argument is everything after the first space, verbatim. Upstream removed every `"`
   * and, except for RETR/SIZE/STOR, every " -x " token, so `DELE a -b c` deleted "a c".
   */
  parse(message) {
    const space = message.indexOf(' ');
    const directive = (space === -1 ? message : message.slice(0, space)).trim().toUpperCase();
    let arg = space === -1 ? '' : message.slice(space + 1);
    const flags = [];
    if (LS_DIRECTIVES.includes(directive)) {
      let match;
      while ((match = LS_FLAGS.exec(arg))) {
        flags.push(match[1]);
        arg = arg.slice(match[0].length);
      }
    }
    return {
      directive,
      arg: arg.length ? arg : null,
      flags,
      raw: message
    };
  }

  handle(command) {
    if (typeof command === 'string') command = this.parse(command);

    // Obfuscate password from logs
    const logCommand = _.clone(command);
    if (logCommand.directive === 'PASS') logCommand.arg = '********';

    const log = this.connection.log.child({directive: command.directive});
    log.trace({command: logCommand}, 'Handle command');

    if (!REGISTRY.hasOwnProperty(command.directive)) {
      return this.connection.reply(502, `Command not allowed: ${command.directive}`);
    }

    if (_.includes(this.blacklist, command.directive)) {
      return this.connection.reply(502, `Command blacklisted: ${command.directive}`);
    }

    if (this.whitelist.length > 0 && !_.includes(this.whitelist, command.directive)) {
      return this.connection.reply(502, `Command not whitelisted: ${command.directive}`);
    }

    const commandRegister = REGISTRY[command.directive];
    const commandFlags = _.get(commandRegister, 'flags', {});
    if (!commandFlags.no_auth && !this.connection.authenticated) {
      return this.connection.reply(530, `Command requires authentication: ${command.directive}`);
    }

    if (!commandRegister.handler) {
      return this.connection.reply(502, `Handler not set on command: ${command.directive}`);
    }

    const options = this.connection.server.options;
    if (options.tls_required && DATA_DIRECTIVES.includes(command.directive) && this.connection.protection !== 'P') {
      return this.connection.reply(521, 'Data connections must be protected: send PBSZ 0 and PROT P');
    }

    const refusal = PATH_DIRECTIVES.includes(command.directive) && command.arg ? this.checkName(command.arg) : null;
    if (refusal) return this.connection.reply(553, refusal);

    const handler = commandRegister.handler.bind(this.connection);
    return Promise.resolve(handler({log, command, previous_command: this.previousCommand}))
    .then(() => {
      this.previousCommand = _.clone(command);
    });
  }

  /** ingest: the `name_policy` option's refusal of a path argument (reported as abuse), or null. */
  checkName(name) {
    const policy = this.connection.server.options.name_policy;
    const refusal = policy ? policy(name) : null;
    if (refusal) this.connection.server.emit('abuse', {connection: this.connection, address: this.connection.ip, reason: 'file name not allowed'});
    return refusal || null;
  }
}
module.exports = FtpCommands;
module.exports.DATA_DIRECTIVES = DATA_DIRECTIVES;
