// ingest: replaces the `ip` package (only ip.isEqual was used; ip 1.x has open advisories).
const {isIPv4} = require('net');

/** `::ffff:192.0.2.1` → `192.0.2.1`: a dual-stack listener sees IPv4 clients so. */
function unmap(address) {
  const text = String(address || '').toLowerCase();
  return text.startsWith('::ffff:') && isIPv4(text.slice(7)) ? text.slice(7) : text;
}

/** Whether two socket addresses name the same host (IPv4 and its IPv4-mapped IPv6 form are equal). */
module.exports = function sameAddress(a, b) {
  return Boolean(a) && Boolean(b) && unmap(a) === unmap(b);
};
module.exports.unmap = unmap;
