#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSONL file being written: bytes go to a hidden temporary file in the destination folder,
/// which is renamed over the final name only by ``commit()``.
///
/// Why: a training engine pointed at a half-written file trains on half a set without a word;
/// with rename(2) the final name holds either the previous complete file or the new complete
/// one, never a prefix, even if the export is killed. The temporary file sits in the same
/// folder (rename is atomic only within a filesystem) and is fsynced before the rename, so a
/// crash right after cannot leave an empty file under the final name either.
///
/// The JSON is written by hand into one large buffer (flushed with write(2) every megabyte or
/// so): one `JSONEncoder` call per row would cost more than the rest of the export together.
final class ExportFileWriter {
    /// The final path.
    let path: String
    /// Where the bytes are until ``commit()``.
    let temporaryPath: String
    private var fd: Int32
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Bytes in `buffer` not yet written to the file.
    private(set) var used = 0
    private var flushed = 0
    private var finished = false

    /// Bytes written so far (flushed or buffered).
    var bytesWritten: Int { flushed + used }

    /// Creates the temporary file beside `path` (replacing a stale one of an earlier crashed run).
    init(path: String, capacity: Int = 1 << 20) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[...$0]) } ?? ""
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        temporaryPath = "\(dir).\(base).\(getpid()).partial"
        Self.removeStalePartials(directory: dir, base: base)
        unlink(temporaryPath)
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TrainingSetExportError.io(path: temporaryPath, detail: String(cString: strerror(errno))) }
        self.capacity = capacity
        buffer = .allocate(capacity: capacity)
    }

    /// Removes `.<base>.<pid>.partial` files in `directory` whose process is gone: what an export
    /// killed with `kill -9` leaves behind (its `discard()` never ran). A partial file of a live
    /// process (another export writing the same name right now) is left alone.
    static func removeStalePartials(directory: String, base: String) {
        let prefix = ".\(base)."
        guard let d = opendir(directory.isEmpty ? "." : directory) else { return }
        defer { closedir(d) }
        var stale: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            guard name.hasPrefix(prefix), name.hasSuffix(".partial") else { continue }
            let middle = name.dropFirst(prefix.count).dropLast(".partial".count)
            guard let pid = Int32(middle), pid > 0 else { continue }
            if pid == getpid() || kill(pid, 0) == 0 || errno == EPERM { continue }
            stale.append(directory + name)
        }
        for path in stale { unlink(path) }
    }

    deinit {
        discard()
        buffer.deallocate()
    }

    /// Makes room for `n` more bytes in the buffer (flushing it, or growing it for a huge row).
    @inline(__always) func reserve(_ n: Int) throws {
        if used + n > capacity { try makeRoom(n) }
    }

    private func makeRoom(_ n: Int) throws {
        try flush()
        if n > capacity {
            buffer.deallocate()
            capacity = max(n, capacity * 2)
            buffer = .allocate(capacity: capacity)
        }
    }

    func flush() throws {
        var off = 0
        while off < used {
            let r = write(fd, buffer + off, used - off)
            if r < 0 {
                if errno == EINTR { continue }
                throw TrainingSetExportError.io(path: temporaryPath, detail: String(cString: strerror(errno)))
            }
            off += r
        }
        flushed += used
        used = 0
    }

    /// Writes everything, syncs it to disk and renames the file to its final name.
    func commit() throws {
        try flush()
        guard fsync(fd) == 0 else { throw TrainingSetExportError.io(path: temporaryPath, detail: String(cString: strerror(errno))) }
        guard close(fd) == 0 else { throw TrainingSetExportError.io(path: temporaryPath, detail: String(cString: strerror(errno))) }
        fd = -1
        guard rename(temporaryPath, path) == 0 else {
            let detail = String(cString: strerror(errno))
            discard()
            throw TrainingSetExportError.io(path: path, detail: detail)
        }
        finished = true
        Self.syncDirectory(of: path)
    }

    /// Removes the temporary file (a failed export leaves nothing behind). Idempotent.
    func discard() {
        guard !finished else { return }
        finished = true
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
    }

    /// Makes a rename durable: fsync of the folder holding the name.
    static func syncDirectory(of path: String) {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let d = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 { fsync(d); close(d) }
    }

    /// Writes a whole small file atomically (temporary file, fsync, rename).
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let w = try ExportFileWriter(path: path, capacity: max(bytes.count, 16))
        defer { w.discard() }
        w.append(bytes)
        try w.commit()
    }

    // MARK: - Writing (the caller has reserved the room)

    @inline(__always) func put(_ b: UInt8) {
        buffer[used] = b
        used += 1
    }

    @inline(__always) func put(_ s: StaticString) {
        memcpy(buffer + used, s.utf8Start, s.utf8CodeUnitCount)
        used += s.utf8CodeUnitCount
    }

    private func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { if let b = $0.baseAddress { memcpy(buffer + used, b, $0.count) } }
        used += bytes.count
    }

    /// Appends `count` copies of "1," without the last comma: an attention mask.
    @inline(__always) func putOnes(_ count: Int) {
        guard count > 0 else { return }
        var o = used
        for _ in 0..<count {
            buffer[o] = UInt8(ascii: "1")
            buffer[o + 1] = UInt8(ascii: ",")
            o += 2
        }
        used = o - 1
    }

    /// Appends a non-negative integer in decimal (at most 10 bytes).
    @inline(__always) func putUInt32(_ v: UInt32) {
        let digits = v < 10 ? 1 : v < 100 ? 2 : v < 1_000 ? 3 : v < 10_000 ? 4 : v < 100_000 ? 5
            : v < 1_000_000 ? 6 : v < 10_000_000 ? 7 : v < 100_000_000 ? 8 : v < 1_000_000_000 ? 9 : 10
        var k = used + digits
        var x = v
        repeat {
            k -= 1
            buffer[k] = 0x30 &+ UInt8(truncatingIfNeeded: x % 10)
            x /= 10
        } while x != 0
        used += digits
    }

    /// Copies bytes already in the buffer (`range` of earlier output of this row) to its end.
    @inline(__always) func repeatOutput(from start: Int, to end: Int) {
        memmove(buffer + used, buffer + start, end - start)
        used += end - start
    }

    /// Writes `bytes` as a JSON string, quotes included. Returns the offset of the first byte
    /// that is not valid UTF-8 (nothing sensible was written then), or nil.
    ///
    /// Escapes `"`, `\` and the control characters below U+0020 (as `\n`, `\t`, ... or
    /// `\u00XX`), which JSON requires; every other character, non-ASCII included, is copied as
    /// its UTF-8 bytes, which JSON allows and keeps files small for CJK or emoji text. Eight
    /// bytes at a time: a 64-bit mask finds the next byte needing care, so plain ASCII runs are
    /// copied whole.
    func putJSONString(_ bytes: UnsafeRawBufferPointer) throws -> Int? {
        let n = bytes.count
        try reserve(1)
        put(0x22)
        guard n > 0, let p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            try reserve(1)
            put(0x22)
            return nil
        }
        var i = 0
        let chunk = 1 << 17
        while i < n {
            // Worst case 6 output bytes per input byte (\u00XX), +8 for the whole-word store,
            // +4 for a UTF-8 sequence starting just before the end of the chunk.
            let end = min(n, i + chunk)
            try reserve((end - i) * 6 + 16)
            let out = buffer
            var o = used
            while i < end {
                if i + 8 <= n {
                    let x = UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
                    let m = Self.attentionMask(x)
                    UnsafeMutableRawPointer(out + o).storeBytes(of: x.littleEndian, as: UInt64.self)
                    if m == 0 {
                        o += 8
                        i += 8
                        continue
                    }
                    let k = m.trailingZeroBitCount >> 3
                    o += k
                    i += k
                }
                let b = p[i]
                if b >= 0x80 {
                    let len = Self.utf8SequenceLength(p, i, n)
                    if len == 0 { used = o; return i }
                    for j in 0..<len { out[o + j] = p[i + j] }
                    o += len
                    i += len
                } else if b == 0x22 || b == 0x5C {
                    out[o] = 0x5C
                    out[o + 1] = b
                    o += 2
                    i += 1
                } else if b < 0x20 {
                    out[o] = 0x5C
                    switch b {
                    case 0x0A: out[o + 1] = UInt8(ascii: "n"); o += 2
                    case 0x09: out[o + 1] = UInt8(ascii: "t"); o += 2
                    case 0x0D: out[o + 1] = UInt8(ascii: "r"); o += 2
                    case 0x08: out[o + 1] = UInt8(ascii: "b"); o += 2
                    case 0x0C: out[o + 1] = UInt8(ascii: "f"); o += 2
                    default:
                        out[o + 1] = UInt8(ascii: "u")
                        out[o + 2] = 0x30
                        out[o + 3] = 0x30
                        out[o + 4] = Self.hexDigits[Int(b >> 4)]
                        out[o + 5] = Self.hexDigits[Int(b & 15)]
                        o += 6
                    }
                    i += 1
                } else {
                    out[o] = b
                    o += 1
                    i += 1
                }
            }
            used = o
        }
        try reserve(1)
        put(0x22)
        return nil
    }

    /// Writes a Swift string as a JSON string (strings are valid UTF-8 by construction).
    func putJSONString(_ s: String) throws {
        var s = s
        _ = try s.withUTF8 { try putJSONString(UnsafeRawBufferPointer($0)) }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// High bit set in each byte that is `"`, `\`, below 0x20, or 0x80 and above: the bytes the
    /// escaper must look at. Exact per byte (no carries between bytes), as in LecternStore's
    /// UTF8Scan.
    @inline(__always) static func attentionMask(_ x: UInt64) -> UInt64 {
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let highs: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func equal(_ byte: UInt8) -> UInt64 {
            let t = x ^ (UInt64(byte) &* 0x0101_0101_0101_0101)
            return ~(((t & low7) &+ low7) | t) & highs
        }
        let control = ~(((x & low7) &+ 0x6060_6060_6060_6060) | x) & highs
        return control | equal(0x22) | equal(0x5C) | (x & highs)
    }

    /// Length of the well-formed UTF-8 sequence starting at `p[i]` (a byte >= 0x80), or 0 if it
    /// is not one (stray continuation byte, overlong form, surrogate, above U+10FFFF, truncated).
    @inline(__always) static func utf8SequenceLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        @inline(__always) func byte(_ k: Int) -> UInt8 { i + k < n ? p[i + k] : 0 }
        @inline(__always) func cont(_ k: Int) -> Bool { byte(k) & 0xC0 == 0x80 }
        switch p[i] {
        case 0xC2...0xDF: return cont(1) ? 2 : 0
        case 0xE0: return (0xA0...0xBF).contains(byte(1)) && cont(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return cont(1) && cont(2) ? 3 : 0
        case 0xED: return (0x80...0x9F).contains(byte(1)) && cont(2) ? 3 : 0
        case 0xF0: return (0x90...0xBF).contains(byte(1)) && cont(2) && cont(3) ? 4 : 0
        case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : 0
        case 0xF4: return (0x80...0x8F).contains(byte(1)) && cont(2) && cont(3) ? 4 : 0
        default: return 0
        }
    }
}
