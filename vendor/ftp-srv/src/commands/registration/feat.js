const _ = require('lodash');

/** ingest: features that exist only with TLS configured; AUTH TLS not on an implicit TLS port either. */
const TLS_FEATURES = ['AUTH TLS', 'PBSZ', 'PROT'];

module.exports = {
  directive: 'FEAT',
  handler: function () {
    const registry = require('../registry');
    const hasTLS = Boolean(this.server.options.tls);
    const features = Object.keys(registry)
      .reduce((feats, cmd) => {
        const feat = _.get(registry[cmd], 'flags.feat', null);
        if (feat) return _.concat(feats, feat);
        return feats;
      }, ['UTF8'])
      .filter((feat) => !TLS_FEATURES.includes(feat) || (hasTLS && !(feat === 'AUTH TLS' && this.server.isTLS)))
      .filter((feat, index, all) => all.indexOf(feat) === index)
      .sort()
      .map((feat) => ({
        message: ` ${feat}`,
        raw: true
      }));
    return features.length
      ? this.reply(211, 'Extensions supported', ...features, 'End')
      : this.reply(211, 'No features');
  },
  syntax: '{{cmd}}',
  description: 'Get the feature list implemented by the server',
  flags: {
    no_auth: true
  }
};
