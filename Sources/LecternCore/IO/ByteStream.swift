import CZlib
import Foundation

/// Reads a file as a stream of byte chunks, transparently decompressing gzip (detected by its
/// magic bytes, not its name). Chunks are large (1 MiB) so per-call costs vanish next to parsing.
/// Package-visible: `import-instructions` (LecternBuild) reads its files through it too.
package final class ByteStream {
    package let path: String
    private let fd: Int32
    /// Heap-allocated: zlib keeps a pointer back to its z_stream, so the struct must not move.
    private var zs: UnsafeMutablePointer<z_stream>?
    private var inBuffer: [UInt8]
    private var inAvailable = 0
    private var inOffset = 0
    private var eof = false
    private var gzipDone = false
    private var atMemberBoundary = false
    /// A gzip error found after some output of the same call: thrown by the next call, so the
    /// bytes before the damage are handed out first.
    private var pendingError: UnreadableFile?
    /// Whether the file is gzip-compressed.
    package let isGzip: Bool
    /// Whether a read failed because the compressed data is corrupt or cut short (not because
    /// the file could not be read): the content is damaged, reading again will not help.
    package private(set) var damaged = false

    package static let chunkSize = 1 << 20

    package init(path: String) throws {
        self.path = path
        fd = Glibc.open(path, O_RDONLY)
        guard fd >= 0 else { throw UnreadableFile(path: path, detail: String(cString: strerror(errno))) }
        inBuffer = [UInt8](repeating: 0, count: Self.chunkSize)
        var magic = [UInt8](repeating: 0, count: 2)
        let n = Glibc.read(fd, &magic, 2)
        isGzip = n == 2 && magic[0] == 0x1F && magic[1] == 0x8B
        lseek(fd, 0, SEEK_SET)
        if isGzip {
            let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            z.initialize(to: z_stream())
            // 15 + 32: zlib or gzip header, detected automatically.
            guard inflateInit2_(z, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                z.deallocate()
                Glibc.close(fd)
                throw UnreadableFile(path: path, detail: "cannot initialise gzip decompression")
            }
            zs = z
        }
    }

    deinit {
        if let zs {
            inflateEnd(zs)
            zs.deallocate()
        }
        Glibc.close(fd)
    }

    /// Appends up to about a chunk of (decompressed) bytes to `buffer`; returns false at the end.
    package func read(into buffer: inout [UInt8]) throws -> Bool {
        if !isGzip {
            let start = buffer.count
            buffer.reserveCapacity(start + Self.chunkSize)
            let n = try readRaw(into: &buffer, count: Self.chunkSize)
            _ = start
            return n > 0
        }
        if let pendingError { throw pendingError }
        if gzipDone { return false }
        var out = [UInt8](repeating: 0, count: Self.chunkSize)
        var produced = 0
        while produced == 0 {
            if inOffset == inAvailable && !eof {
                inAvailable = inBuffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, Self.chunkSize) }
                if inAvailable < 0 { throw UnreadableFile(path: path, detail: String(cString: strerror(errno))) }
                inOffset = 0
                if inAvailable == 0 { eof = true }
            }
            if eof && inOffset == inAvailable && atMemberBoundary {
                gzipDone = true
                return false
            }
            let available = inAvailable - inOffset
            let status: Int32 = inBuffer.withUnsafeMutableBufferPointer { inPtr in
                out.withUnsafeMutableBufferPointer { outPtr in
                    zs!.pointee.next_in = inPtr.baseAddress! + inOffset
                    zs!.pointee.avail_in = UInt32(available)
                    zs!.pointee.next_out = outPtr.baseAddress!
                    zs!.pointee.avail_out = UInt32(Self.chunkSize)
                    let s = inflate(zs!, Z_NO_FLUSH)
                    inOffset = inAvailable - Int(zs!.pointee.avail_in)
                    produced = Self.chunkSize - Int(zs!.pointee.avail_out)
                    return s
                }
            }
            atMemberBoundary = false
            if status == Z_STREAM_END {
                // Concatenated gzip members (as `cat a.gz b.gz` makes) continue after a reset.
                inflateReset(zs!)
                atMemberBoundary = true
            } else if status != Z_OK && status != Z_BUF_ERROR {
                damaged = true
                // Deflate notices damage late (the checksum is at the end of a member), so what
                // was decompressed just before may be garbage too; the reader's checks catch most.
                let error = UnreadableFile(
                    path: path, detail: "corrupt gzip data (zlib error \(status); found late, so the lines just before may be damaged too)")
                guard produced > 0 else { throw error }
                pendingError = error
            } else if produced == 0 && eof && inOffset == inAvailable {
                damaged = true
                throw UnreadableFile(path: path, detail: "truncated gzip file")
            }
        }
        buffer.append(contentsOf: out[0..<produced])
        return true
    }

    private func readRaw(into buffer: inout [UInt8], count: Int) throws -> Int {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: count))
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + start, count) }
        if n < 0 {
            buffer.removeLast(count)
            throw UnreadableFile(path: path, detail: String(cString: strerror(errno)))
        }
        buffer.removeLast(count - n)
        return n
    }

    /// The whole (decompressed) content.
    package func readAll() throws -> [UInt8] {
        var all: [UInt8] = []
        while try read(into: &all) {}
        return all
    }
}

/// Splits a byte stream into lines, counting line numbers. A line ends at "\n", "\r\n" or a
/// lone "\r" (Python's universal newlines), none of which is part of the line.
///
/// When the stream fails (a truncated or corrupt gzip file, an I/O error), every line that
/// ended before the damage is still handed out; then the error is thrown, saying after which
/// line it happened and how many bytes of an unfinished line are lost.
package final class LineReader {
    private let stream: ByteStream
    private var buffer: [UInt8] = []
    private var start = 0
    private var done = false
    private var failure: Error?
    /// 1-based number of the line last returned.
    package private(set) var lineNumber = 0

    package init(stream: ByteStream) { self.stream = stream }

    /// Calls `body` with the next line's bytes; returns nil at the end of input.
    package func next<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R? {
        while true {
            let atEnd = done
            // (end of the line, start of the next one)
            let found = buffer.withUnsafeBufferPointer { LineEnd.find(in: $0, from: start, atEnd: atEnd) }
            if let (end, nextStart) = found {
                lineNumber += 1
                let lineStart = start
                start = nextStart
                return try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[lineStart..<end])) }
            }
            if done {
                if let failure { throw describe(failure) }
                guard start < buffer.count else { return nil }
                lineNumber += 1
                let lineStart = start
                start = buffer.count
                return try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[lineStart...])) }
            }
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            do {
                if try !stream.read(into: &buffer) { done = true }
            } catch {
                done = true
                failure = error
            }
        }
    }

    /// The stream's error, with where it struck.
    private func describe(_ error: Error) -> Error {
        guard let error = error as? UnreadableFile else { return error }
        let path = error.path, detail = error.detail
        let lost = buffer.count - start
        let tail = lost > 0 ? "; \(lost) bytes of an unfinished line \(lineNumber + 1) are lost" : ""
        let kept = lineNumber > 0 ? "after line \(lineNumber) (the lines before it were read\(tail))" : "before the end of line 1\(tail)"
        return UnreadableFile(path: path, detail: "\(detail) \(kept)")
    }

    /// Skips `n` lines without handing them out (resuming a partly ingested file).
    package func skip(_ n: Int) throws {
        var left = n
        while left > 0, try next({ _ in () }) != nil { left -= 1 }
    }
}


/// Where lines end: "\n", "\r\n" or a lone "\r" (Python's universal newlines), the one rule of
/// every line-oriented reader (corpora, instruction files).
package enum LineEnd {
    /// The first line end in `buf` at or after `scan`: (end of the line, start of the next);
    /// nil when there is none yet, or when `buf` ends with a "\r" that a "\n" may follow
    /// (`atEnd`: nothing follows, so it is a line end).
    package static func find(in buf: UnsafeBufferPointer<UInt8>, from scan: Int, atEnd: Bool) -> (Int, Int)? {
        guard scan < buf.count, let start = buf.baseAddress else { return nil }
        let base = UnsafeRawPointer(start)
        let newline = memchr(base + scan, 0x0A, buf.count - scan).map { UnsafeRawPointer($0) - base }
        let limit = newline ?? buf.count
        if limit > scan, let p = memchr(base + scan, 0x0D, limit - scan) {
            let cr = UnsafeRawPointer(p) - base
            if cr + 1 < buf.count { return (cr, buf[cr + 1] == 0x0A ? cr + 2 : cr + 1) }
            return atEnd ? (cr, cr + 1) : nil
        }
        return newline.map { ($0, $0 + 1) }
    }
}
