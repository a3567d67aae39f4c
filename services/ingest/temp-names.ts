/** Names a sender uses while a file is still being written ("*.part", ".*"): simple globs with * and ?. */
export function tempNameMatcher(patterns: readonly string[]): (fileName: string) => boolean {
  const regexes = patterns.map((pattern) => {
    const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    return new RegExp(`^${body}$`, 'i');
  });
  return (fileName) => regexes.some((r) => r.test(fileName));
}
