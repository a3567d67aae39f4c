/**
 * The conventions our code shares with ftp-srv, which is vendored (vendor/ftp-srv, its CHANGES.md
 * lists every change). What used to be reached into in 4.6.3 (private fields, signal handlers,
 * a reply wrapper, path resolution) is now options and typed API of the vendored copy; what is
 * left here are the two ways a file system or the login handler tell ftp-srv what to answer.
 * test/unit/ftp-srv.internals.test.ts fails when the vendored copy loses one of them (for example
 * when upstream 4.6.3 is put back).
 */
import type { FtpReply } from './ftp-replies';
import type { Refusal } from './ftp-gate';

/**
 * An error a file system throws (or fails an upload stream with) to get `reply` as the answer:
 * src/helpers/reply-error.js sends an error's `replyCode` when it is 4xx or 5xx (never a success),
 * with its message as the text, for STOR/APPE/STOU, RETR, RNTO and every other file command.
 */
export function replyError(reply: Pick<FtpReply, 'code' | 'text'>): Error {
  return Object.assign(new Error(reply.text), { replyCode: reply.code });
}

/**
 * The error the login listener rejects with: src/commands/registration/pass.js answers 421 or 530
 * with its text, and ends the session after the reply when the refusal says so.
 */
export function loginRefusal(refusal: Refusal): Error {
  return Object.assign(new Error(refusal.text), { replyCode: refusal.code, closeConnection: refusal.close });
}
