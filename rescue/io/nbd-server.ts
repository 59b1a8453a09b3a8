// A small NBD server (the Network Block Device protocol, fixed newstyle negotiation) on a unix
// socket: it exports one writable volume (a copy-on-write overlay of a source) so that
// qemu-storage-daemon can show it as a file on which resize2fs or ntfsresize shrink a filesystem.
// Written from the protocol's specification (NetworkBlockDevice/nbd, doc/proto.md): options
// EXPORT_NAME, GO, INFO, LIST, ABORT (others answered "unsupported"), simple replies only, and the
// commands READ, WRITE, FLUSH, WRITE_ZEROES and DISC, handled one at a time in the order sent.
// A client that has not finished the negotiation within the handshake timeout is cut off.

import net from 'node:net';
import { LifeboatError } from '../core/errors.ts';
import type { WritableVolume } from './copy-on-write-overlay.ts';

const NBD_MAGIC = 0x4e42444d41474943n;
const OPTION_MAGIC = 0x49484156454f5054n;
const OPTION_REPLY_MAGIC = 0x0003e889045565a9n;
const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;

const FLAG_FIXED_NEWSTYLE = 1;
const FLAG_NO_ZEROES = 2;
const CLIENT_FLAG_NO_ZEROES = 2;

const OPT = { exportName: 1, abort: 2, list: 3, info: 6, go: 7 } as const;
const REP_ACK = 1;
const REP_SERVER = 2;
const REP_INFO = 3;
const REP_ERR_UNSUP = 2 ** 31 + 1;
const REP_ERR_INVALID = 2 ** 31 + 3;
const REP_ERR_UNKNOWN = 2 ** 31 + 6;
const INFO_EXPORT = 0;
const INFO_BLOCK_SIZE = 3;

const TRANSMISSION_FLAGS = { hasFlags: 1, readOnly: 2, sendFlush: 4, sendWriteZeroes: 64 } as const;
const CMD = { read: 0, write: 1, disc: 2, flush: 3, writeZeroes: 6 } as const;
const ERRNO = { EIO: 5, EINVAL: 22, ENOSPC: 28, EPERM: 1 } as const;

/** The longest read or write a request may ask for (the block-size info tells clients). */
export const NBD_MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/** How long a client may take from connecting to the end of the negotiation. */
export const NBD_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Longest option payload accepted (names are short). */
const MAX_OPTION_BYTES = 64 * 1024;

/** What to serve, and where. */
export interface NbdServerOptions {
  readonly socketPath: string;
  readonly exportName: string;
  readonly volume: WritableVolume;
  readonly readOnly?: boolean;
  readonly handshakeTimeoutMs?: number;
}

/** A running server. */
export interface NbdServer {
  /** Closes the listening socket and every connection. */
  close(): Promise<void>;
  /** Requests answered with an error, and the first error's cause (for the operation's report). */
  readonly failures: number;
  readonly firstFailure: unknown;
}

/** Reads exact byte counts from a socket. */
class SocketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiting: { bytes: number; resolve: (data: Buffer) => void; reject: (error: Error) => void } | undefined;
  private ended: Error | undefined;

  constructor(socket: net.Socket) {
    socket.on('data', (data: Buffer) => {
      this.chunks.push(data);
      this.buffered += data.length;
      this.wake();
    });
    const end = () => this.fail(new Error('the client closed the connection'));
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', (error) => this.fail(error));
  }

  read(bytes: number): Promise<Buffer> {
    if (this.waiting) throw new Error('one read at a time');
    return new Promise((resolve, reject) => {
      this.waiting = { bytes, resolve, reject };
      this.wake();
    });
  }

  private fail(error: Error): void {
    this.ended ??= error;
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    if (this.buffered >= waiting.bytes) {
      this.waiting = undefined;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      const data = all.subarray(0, waiting.bytes);
      const rest = all.subarray(waiting.bytes);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      waiting.resolve(Buffer.from(data));
    } else if (this.ended) {
      this.waiting = undefined;
      waiting.reject(this.ended);
    }
  }
}

function optionReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(20);
  header.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  header.writeUInt32BE(option, 8);
  header.writeUInt32BE(type, 12);
  header.writeUInt32BE(data.length, 16);
  return Buffer.concat([header, data]);
}

function simpleReply(error: number, cookie: Buffer): Buffer {
  const reply = Buffer.alloc(16);
  reply.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  reply.writeUInt32BE(error, 4);
  cookie.copy(reply, 8);
  return reply;
}

/** The errno an NBD client gets for a failure of the volume. */
function errnoFor(error: unknown): number {
  const code = error instanceof LifeboatError ? error.code : undefined;
  if (code === 'LB_DEVICE_SCRATCH_TOO_SMALL') return ERRNO.ENOSPC;
  if (code === 'LB_INPUT_READ_OUT_OF_RANGE') return ERRNO.EINVAL;
  return ERRNO.EIO;
}

/** Starts serving `volume` on a unix socket (which must not exist yet). */
export async function startNbdServer(options: NbdServerOptions): Promise<NbdServer> {
  const sockets = new Set<net.Socket>();
  const state = { failures: 0, firstFailure: undefined as unknown };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(socket, options, state).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    get failures() {
      return state.failures;
    },
    get firstFailure() {
      return state.firstFailure;
    },
  };
}

async function serveConnection(socket: net.Socket, options: NbdServerOptions, state: { failures: number; firstFailure: unknown }): Promise<void> {
  const reader = new SocketReader(socket);
  const timer = setTimeout(() => socket.destroy(), options.handshakeTimeoutMs ?? NBD_HANDSHAKE_TIMEOUT_MS);
  let entered: boolean;
  try {
    entered = await negotiate(socket, reader, options);
  } finally {
    clearTimeout(timer);
  }
  if (!entered) {
    socket.end();
    return;
  }
  await transmit(socket, reader, options, state);
}

function transmissionFlags(options: NbdServerOptions): number {
  const flags = TRANSMISSION_FLAGS.hasFlags | TRANSMISSION_FLAGS.sendFlush;
  return options.readOnly ? flags | TRANSMISSION_FLAGS.readOnly : flags | TRANSMISSION_FLAGS.sendWriteZeroes;
}

function exportInfo(options: NbdServerOptions): Buffer {
  const info = Buffer.alloc(12);
  info.writeUInt16BE(INFO_EXPORT, 0);
  info.writeBigUInt64BE(BigInt(options.volume.size), 2);
  info.writeUInt16BE(transmissionFlags(options), 10);
  return info;
}

function blockSizeInfo(): Buffer {
  const info = Buffer.alloc(14);
  info.writeUInt16BE(INFO_BLOCK_SIZE, 0);
  info.writeUInt32BE(1, 2);
  info.writeUInt32BE(4096, 6);
  info.writeUInt32BE(NBD_MAX_REQUEST_BYTES, 10);
  return info;
}

/** The handshake and option haggling; true when the client entered transmission. */
async function negotiate(socket: net.Socket, reader: SocketReader, options: NbdServerOptions): Promise<boolean> {
  const hello = Buffer.alloc(18);
  hello.writeBigUInt64BE(NBD_MAGIC, 0);
  hello.writeBigUInt64BE(OPTION_MAGIC, 8);
  hello.writeUInt16BE(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, 16);
  socket.write(hello);
  const clientFlags = (await reader.read(4)).readUInt32BE(0);
  const noZeroes = (clientFlags & CLIENT_FLAG_NO_ZEROES) !== 0;
  for (;;) {
    const header = await reader.read(16);
    if (header.readBigUInt64BE(0) !== OPTION_MAGIC) return false;
    const option = header.readUInt32BE(8);
    const length = header.readUInt32BE(12);
    if (length > MAX_OPTION_BYTES) return false;
    const data = length > 0 ? await reader.read(length) : Buffer.alloc(0);
    if (option === OPT.exportName) {
      // No way to refuse here but to hang up: an unknown name ends the connection.
      if (data.toString('utf8') !== options.exportName && length > 0) return false;
      const reply = Buffer.alloc(noZeroes ? 10 : 134);
      reply.writeBigUInt64BE(BigInt(options.volume.size), 0);
      reply.writeUInt16BE(transmissionFlags(options), 8);
      socket.write(reply);
      return true;
    }
    if (option === OPT.abort) {
      socket.write(optionReply(option, REP_ACK));
      return false;
    }
    if (option === OPT.list) {
      const name = Buffer.from(options.exportName, 'utf8');
      const entry = Buffer.alloc(4 + name.length);
      entry.writeUInt32BE(name.length, 0);
      name.copy(entry, 4);
      socket.write(Buffer.concat([optionReply(option, REP_SERVER, entry), optionReply(option, REP_ACK)]));
      continue;
    }
    if (option === OPT.info || option === OPT.go) {
      if (data.length < 6) {
        socket.write(optionReply(option, REP_ERR_INVALID));
        continue;
      }
      const nameLength = data.readUInt32BE(0);
      if (4 + nameLength + 2 > data.length) {
        socket.write(optionReply(option, REP_ERR_INVALID));
        continue;
      }
      const name = data.subarray(4, 4 + nameLength).toString('utf8');
      if (name !== options.exportName && name !== '') {
        socket.write(optionReply(option, REP_ERR_UNKNOWN));
        continue;
      }
      socket.write(Buffer.concat([optionReply(option, REP_INFO, exportInfo(options)), optionReply(option, REP_INFO, blockSizeInfo()), optionReply(option, REP_ACK)]));
      if (option === OPT.go) return true;
      continue;
    }
    socket.write(optionReply(option, REP_ERR_UNSUP));
  }
}

/** Answers requests one at a time until the client disconnects. */
async function transmit(socket: net.Socket, reader: SocketReader, options: NbdServerOptions, state: { failures: number; firstFailure: unknown }): Promise<void> {
  const volume = options.volume;
  for (;;) {
    let request: Buffer;
    try {
      request = await reader.read(28);
    } catch {
      return;
    }
    if (request.readUInt32BE(0) !== REQUEST_MAGIC) {
      socket.destroy();
      return;
    }
    const type = request.readUInt16BE(6);
    const cookie = request.subarray(8, 16);
    const offsetBig = request.readBigUInt64BE(16);
    const length = request.readUInt32BE(24);
    const offset = offsetBig > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(offsetBig);
    if (type === CMD.disc) {
      await volume.flush();
      socket.end();
      return;
    }
    if (type === CMD.write && length > NBD_MAX_REQUEST_BYTES) {
      // Its payload cannot be skipped safely: the connection ends.
      socket.destroy();
      return;
    }
    const payload = type === CMD.write ? await reader.read(length) : undefined;
    const inRange = offset + length <= volume.size;
    let error = 0;
    let data: Uint8Array | undefined;
    try {
      if (type === CMD.read) {
        if (length > NBD_MAX_REQUEST_BYTES || !inRange) error = ERRNO.EINVAL;
        else {
          data = new Uint8Array(length);
          if (volume.readInto) await volume.readInto(data, offset);
          else data.set(await volume.read(offset, length));
        }
      } else if (type === CMD.write || type === CMD.writeZeroes) {
        if (options.readOnly) error = ERRNO.EPERM;
        else if (!inRange) error = ERRNO.ENOSPC;
        else if (type === CMD.write) await volume.write(payload!, offset);
        else await writeZeroes(volume, offset, length);
      } else if (type === CMD.flush) {
        await volume.flush();
      } else {
        error = ERRNO.EINVAL;
      }
    } catch (cause) {
      error = errnoFor(cause);
      state.failures += 1;
      state.firstFailure ??= cause;
      data = undefined;
    }
    socket.write(simpleReply(error, cookie));
    if (data && error === 0) socket.write(data);
  }
}

async function writeZeroes(volume: WritableVolume, offset: number, length: number): Promise<void> {
  const piece = new Uint8Array(Math.min(length, 1024 * 1024));
  for (let done = 0; done < length; done += piece.length) {
    const bytes = Math.min(piece.length, length - done);
    await volume.write(piece.subarray(0, bytes), offset + done);
  }
}
