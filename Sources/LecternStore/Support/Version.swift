/// The version of this Lectern binary, recorded in every file it writes
/// (`lectern_meta.last_written_by`, `stage_runs.lectern_version`).
public let lecternVersion = "0.1.0"
