/**
 * What an account delivered over FTP, as its FTP view shows it: LIST, NLST, SIZE, MDTM, RNFR/RNTO
 * and DELE answer from here, because the bytes leave the account's home once they are ingested.
 *
 * Paths are the client's: absolute, "/"-separated, normalised, without a trailing "/" ("/" is the
 * home). A directory is recorded when a file is delivered under it and stays, like a folder on disk,
 * until it is renamed or removed while empty.
 */
export interface Delivery {
  /** SHA-256 (hex) of the bytes: the image id. */
  imageId: string;
  /** Bytes delivered (SIZE, LIST). */
  size: number;
  /** When the file was delivered, ISO 8601 (MDTM, LIST). A rename keeps it, as a file system keeps mtime. */
  modifiedAt: string;
  /** Where the original is stored (RETR streams it from there). */
  originalKey: string;
  contentType: string;
}

export type DeliveryNode = { type: 'file'; name: string; delivery: Delivery } | { type: 'directory'; name: string };

/** One file a rename moved. */
export interface DeliveryMove {
  from: string;
  to: string;
  delivery: Delivery;
}

export interface DeliveryRecord {
  /** The file or directory recorded at `path` (named by its last component), or null. "/" is never recorded. */
  get(account: string, path: string): Promise<DeliveryNode | null>;
  /**
   * The files and directories directly inside `directory`, in no particular order; empty when it
   * holds none or is not recorded. Sees every put, rename and remove that resolved before it was
   * called, on this node or any other sharing the record.
   */
  list(account: string, directory: string): Promise<DeliveryNode[]>;
  /** Records the file delivered at `path`, replacing what was recorded there, and its parent directories. */
  put(account: string, path: string, delivery: Delivery): Promise<void>;
  /**
   * Moves the file at `from`, or the directory at `from` with everything under it, to `to`,
   * replacing what is recorded at the new paths; returns the files moved (none when `from` is not
   * recorded). Neither path may lie inside the other.
   */
  rename(account: string, from: string, to: string): Promise<DeliveryMove[]>;
  /** Forgets the file at `path`, or the directory at `path` if nothing is recorded in it; false when nothing was removed. */
  remove(account: string, path: string): Promise<boolean>;
  /**
   * Forgets every file, in every account, that delivered this image (the image was erased), and
   * returns where they were; their directories stay. Idempotent: a second call finds none.
   */
  forgetImage(imageId: string): Promise<{ account: string; path: string }[]>;
  close(): Promise<void>;
}

/** The parent directory and last component of a recorded path ("/a/b.jpg" → "/a", "b.jpg"). */
export function splitPath(path: string): { parent: string; name: string } {
  const slash = path.lastIndexOf('/');
  return { parent: slash === 0 ? '/' : path.slice(0, slash), name: path.slice(slash + 1) };
}

/** Every directory above `path`, outermost first, without "/" ("/a/b/c.jpg" → ["/a", "/a/b"]). */
export function parentDirectories(path: string): string[] {
  const parts = path.split('/').slice(1, -1);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

/** `path` moved from under `from` to under `to` (`path` is `from` or inside it). */
export function movedPath(path: string, from: string, to: string): string {
  return to + path.slice(from.length);
}
