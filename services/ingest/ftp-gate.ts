import type { Account } from '../../shared/accounts';

/** Why a connection or a login is turned away; `text` is what the client hears (never which check failed for a login). */
export interface Refusal {
  /** 421: connection refused or closed (banned, too many connections); 530: login refused. */
  code: 421 | 530;
  text: string;
  /** Close the control connection after the reply (too many attempts, a ban, a limit). */
  close: boolean;
}

/**
 * Who may come in: the FTP server asks it at every new control connection, at every login, and
 * tells it when a connection ends or misbehaves. The defender (ftp-defender.ts) implements it:
 * scores and bans per address, per-account lockout, connection limits, and password checks that
 * take the same time whether or not the account exists.
 */
export interface FtpGate {
  /** A new control connection from `address`, before the greeting: null admits it (and counts it until release). */
  admit(address: string): Refusal | null;
  /** The connection ended; `account` when it had logged in. */
  release(address: string, account: string | null): void;
  /** USER/PASS on a connection; `attempt` counts this connection's tries from 1. */
  authenticate(username: string, password: string, address: string, attempt: number): Promise<{ account: Account } | { refused: Refusal }>;
  /** Protocol abuse seen on a connection from `address` (bad command lines, hostile names, strangers on data ports). */
  penalize(address: string, reason: string): void;
}
