const _ = require('lodash');
const {lsTime, unixSeconds} = require('./time-format');
const errors = require('../errors');

const FORMATS = {
  ls,
  ep
};

module.exports = function (fileStat, format = 'ls') {
  if (typeof format === 'function') return format(fileStat);
  if (!FORMATS.hasOwnProperty(format)) {
    throw new errors.FileSystemError('Bad file stat formatter');
  }
  return FORMATS[format](fileStat);
};

function ls(fileStat) {
  return [
    fileStat.mode ? [
      fileStat.isDirectory() ? 'd' : '-',
      fileStat.mode & 256 ? 'r' : '-',
      fileStat.mode & 128 ? 'w' : '-',
      fileStat.mode & 64 ? 'x' : '-',
      fileStat.mode & 32 ? 'r' : '-',
      fileStat.mode & 16 ? 'w' : '-',
      fileStat.mode & 8 ? 'x' : '-',
      fileStat.mode & 4 ? 'r' : '-',
      fileStat.mode & 2 ? 'w' : '-',
      fileStat.mode & 1 ? 'x' : '-'
    ].join('') : fileStat.isDirectory() ? 'drwxr-xr-x' : '-rwxr-xr-x',
    '1',
    fileStat.uid || 1,
    fileStat.gid || 1,
    _.padStart(fileStat.size, 12),
    _.padStart(lsTime(new Date(fileStat.mtime)), 12),
    fileStat.name
  ].join(' ');
}

function ep(fileStat) {
  const facts = _.compact([
    fileStat.dev && fileStat.ino ? `i${fileStat.dev.toString(16)}.${fileStat.ino.toString(16)}` : null,
    fileStat.size ? `s${fileStat.size}` : null,
    fileStat.mtime ? `m${unixSeconds(new Date(fileStat.mtime))}` : null,
    fileStat.mode ? `up${(fileStat.mode & 4095).toString(8)}` : null,
    fileStat.isDirectory() ? '/' : 'r'
  ]).join(',');
  return `+${facts}\t${fileStat.name}`;
}
