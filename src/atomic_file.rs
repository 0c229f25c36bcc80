//! Writing a file atomically: the bytes go to a temporary file with a unique name
//! in the same folder, which is renamed over the target once complete. A reader
//! (another `sluice` run, an editor) sees the old file or the new one, never half
//! of one; two runs writing the same file at once each use their own temporary
//! name; a write that fails (a full disk) removes its temporary file and leaves
//! the previous file as it was.

use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Write `path` through `write`, atomically. The folder must exist.
pub fn write_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    // The error as the OS gave it ("No space left on device (os error 28)"), not
    // naming the temporary file: the caller names the file it meant to write.
    write_via_temporary(path, write).map_err(|e| match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => e,
    })
}

fn write_via_temporary(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Dropped on any error below, which deletes it.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    // A large buffer: a 24 MB manifest in 8 KB writes is thousands of system calls.
    let mut out = BufWriter::with_capacity(1 << 20, tmp);
    write(&mut out)?;
    let tmp = out.into_inner().map_err(|e| e.into_error())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Write `bytes` to `path`, atomically. The folder must exist.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("manifest.json");
        write(&path, b"old").expect("first write");
        let failed = write_with(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).expect("old file"), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("manifest.json")]);
    }

    #[test]
    fn concurrent_writers_use_their_own_temporary_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("manifest.json");
        std::thread::scope(|s| {
            for i in 0..8 {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..50 {
                        let body = format!("{{\"writer\": {i}}}");
                        write(path, body.as_bytes()).expect("no writer fails");
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&path).expect("a complete file");
        assert!(
            text.starts_with("{\"writer\": ") && text.ends_with('}'),
            "{text}"
        );
    }
}
