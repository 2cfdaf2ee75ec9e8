/// Errors opening or using a Lectern file. Each message names the file and says what to do next.
public enum StoreError: Error, CustomStringConvertible, Sendable {
    /// The file does not exist and the command does not create files.
    case missing(path: String)
    /// The file exists but is not a Lectern file (another SQLite database, or not SQLite at all).
    case notLectern(path: String, detail: String)
    /// The file was written by a newer Lectern whose schema this binary does not know.
    case newerSchema(path: String, fileMigrations: [String], knownMigrations: [String], writtenBy: String?)
    /// The file cannot be opened for writing (permissions, read-only filesystem, ...).
    case unwritable(path: String, detail: String)
    /// A reading command found a file that needs a schema upgrade it cannot write.
    case needsUpgrade(path: String, fileVersion: Int, latestVersion: Int)
    /// The file cannot be read (permissions, or a read-only folder with pending WAL content).
    case unreadable(path: String, detail: String)
    /// `lectern init` was asked for a different domain than the one the file already has.
    case domainMismatch(path: String, existing: String, requested: String)

    public var description: String {
        switch self {
        case .missing(let path):
            return "\(path): no such file. Create it with `lectern init \(path) --domain NAME`."
        case .notLectern(let path, let detail):
            return "\(path): not a Lectern file (\(detail)). Give a file made by `lectern init`."
        case .newerSchema(let path, let fileMigrations, let known, let writtenBy):
            let unknown = fileMigrations.filter { !known.contains($0) }
            return "\(path): written by a newer Lectern\(writtenBy.map { " (\($0))" } ?? "") with schema migrations "
                + "this binary (\(lecternVersion), up to \(known.last ?? "none")) does not know: "
                + "\(unknown.joined(separator: ", ")). Upgrade lectern; the file was not changed."
        case .unwritable(let path, let detail):
            return "\(path): cannot write (\(detail)). Check the path and its permissions."
        case .needsUpgrade(let path, let fileVersion, let latestVersion):
            return "\(path): schema version \(fileVersion) needs upgrading to \(latestVersion) before this lectern can read it, "
                + "and the file (or its folder) is read-only here. Run any lectern command on a writable copy to upgrade it; "
                + "the file was not changed."
        case .unreadable(let path, let detail):
            return "\(path): cannot open for reading (\(detail))."
        case .domainMismatch(let path, let existing, let requested):
            return "\(path): already initialised for domain '\(existing)', not '\(requested)'."
        }
    }
}
