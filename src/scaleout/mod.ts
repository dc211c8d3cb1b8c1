/**
 * Scale-out over NATS JetStream (docs/scale-out.md): subject names of views, the core lock and the edges'
 * view leases.
 *
 * @module
 */
export {
  decodeToken,
  encodeToken,
  SUBJECT_PREFIX,
  typeWildcard,
  viewKeyOf,
  viewSubject,
} from "./subjects.ts";
export { CoreLock, type CoreLockOptions, LOCK_KEY, type LockAttempt, type LockHolder } from "./lock.ts";
export { EdgeLease, LeaseTable } from "./leases.ts";
