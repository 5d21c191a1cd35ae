/**
 * Typed errors. Every error vxmesh raises on purpose is a VxmeshError with a stable `code`;
 * subclasses name the object and field they are about and keep the original as `cause`.
 */
export class VxmeshError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Identifies a cluster object in messages: `VxlanNetwork tenant-a/blue`. */
export interface ObjectRef {
  kind: string;
  namespace?: string;
  name: string;
}

export function refString(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

/** A cluster object whose spec is wrong: `VxlanNetwork tenant-a/blue: spec.vni 0 not in 1..16777215`. */
export class InvalidSpecError extends VxmeshError {
  readonly object: ObjectRef;
  readonly field: string;
  constructor(object: ObjectRef, field: string, problem: string, options?: { cause?: unknown }) {
    super('INVALID_SPEC', `${refString(object)}: ${field} ${problem}`, options);
    this.object = object;
    this.field = field;
  }
}

/** A source document that cannot be read at all (unreadable file, malformed YAML). */
export class SourceError extends VxmeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SOURCE', message, options);
  }
}

/** An external command (ip, bridge, nft, bpftool) failed. */
export class CommandError extends VxmeshError {
  readonly argv: string[];
  readonly stderr: string;
  readonly exitCode: number | undefined;
  constructor(argv: string[], stderr: string, exitCode: number | undefined, options?: { cause?: unknown }) {
    super('COMMAND', `${argv.join(' ')} failed (exit ${exitCode ?? '?'}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`, options);
    this.argv = argv;
    this.stderr = stderr;
    this.exitCode = exitCode;
  }
}

/** The dataplane could not be probed, loaded or programmed. */
export class DataplaneError extends VxmeshError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A libbpf / bpf() call failed; errno is positive (e.g. 1 = EPERM). */
export class BpfError extends VxmeshError {
  readonly op: string;
  readonly errno: number;
  constructor(op: string, errno: number, detail?: string, options?: { cause?: unknown }) {
    super('BPF', `${op} failed: errno ${errno} (${errnoName(errno)})${detail ? `: ${detail}` : ''}`, options);
    this.op = op;
    this.errno = errno;
  }
}

/** A libc call (setns, socket, bind, sendto, …) failed; errno is positive. */
export class SyscallError extends VxmeshError {
  readonly op: string;
  readonly errno: number;
  constructor(op: string, errno: number, detail?: string) {
    super('SYSCALL', `${op} failed: errno ${errno} (${errnoName(errno)})${detail ? `: ${detail}` : ''}`);
    this.op = op;
    this.errno = errno;
  }
}

const ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 7: 'E2BIG', 9: 'EBADF', 11: 'EAGAIN',
  12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL',
  24: 'EMFILE', 28: 'ENOSPC', 38: 'ENOSYS', 95: 'EOPNOTSUPP', 99: 'EADDRNOTAVAIL', 100: 'ENETDOWN',
  101: 'ENETUNREACH', 113: 'EHOSTUNREACH', 524: 'ENOTSUPP',
};

export function errnoName(errno: number): string {
  return ERRNO[errno] ?? `errno${errno}`;
}

/** The CLI was called wrongly. */
export class UsageError extends VxmeshError {
  constructor(message: string) {
    super('USAGE', message);
  }
}
