//! Opening a DuckDB database with DuckDB's own ICU extension loaded.
//!
//! The `duckdb` crate's bundled build has no ICU, and dbt-duckdb always has it:
//! time zones (`at time zone`, `SET TimeZone`), every `TIMESTAMPTZ` function
//! (`now()`, `current_date`, `date_trunc`, `date_diff`, `strftime`,
//! `generate_series`), ICU casts and collations. Without it the bundled DuckDB
//! only has autoload placeholders that fail trying to download `icu`. build.rs
//! compiles DuckDB 2.0.0's ICU sources (vendor/duckdb-icu) and the shim
//! `duckdb_icu.cpp`; [`IcuDatabase::open`] opens the database through the C API
//! and loads the extension into it before any connection exists.

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;

use duckdb::ffi;

extern "C" {
    /// Null on success, else a message to free with `sluice_duckdb_icu_free`.
    fn sluice_duckdb_load_icu(database: ffi::duckdb_database) -> *mut c_char;
    fn sluice_duckdb_icu_free(message: *mut c_char);
}

/// An open DuckDB database with ICU loaded. Connections made from it
/// ([`IcuDatabase::connect`]) do not own it: keep it alive (as a field declared
/// after the connections) until they are dropped.
pub struct IcuDatabase {
    db: ffi::duckdb_database,
}

// SAFETY: a duckdb_database handle may be used from any thread; DuckDB
// synchronises access internally.
unsafe impl Send for IcuDatabase {}
// SAFETY: as above; the handle is only read after `open`.
unsafe impl Sync for IcuDatabase {}

impl IcuDatabase {
    /// Open the database file at `path` (or an in-memory database) and load ICU.
    pub fn open(path: Option<&Path>) -> Result<IcuDatabase, String> {
        let c_path = match path {
            Some(p) => path_cstring(p)?,
            None => CString::from(c":memory:"),
        };
        let mut db: ffi::duckdb_database = std::ptr::null_mut();
        // SAFETY: plain C API calls; every pointer passed is valid for the call,
        // and the config and error string are freed on every path.
        unsafe {
            let mut config: ffi::duckdb_config = std::ptr::null_mut();
            if ffi::duckdb_create_config(&mut config) != ffi::DuckDBSuccess {
                return Err("cannot create a DuckDB configuration".into());
            }
            // What the duckdb crate sets on every database it opens.
            ffi::duckdb_set_config(config, c"duckdb_api".as_ptr(), c"rust".as_ptr());
            let mut err: *mut c_char = std::ptr::null_mut();
            let state = ffi::duckdb_open_ext(c_path.as_ptr(), &mut db, config, &mut err);
            ffi::duckdb_destroy_config(&mut config);
            if state != ffi::DuckDBSuccess {
                let message = if err.is_null() {
                    "cannot open the database".to_string()
                } else {
                    let m = CStr::from_ptr(err).to_string_lossy().into_owned();
                    ffi::duckdb_free(err as *mut c_void);
                    m
                };
                return Err(message);
            }
        }
        // Owned from here on, so an ICU failure still closes the database.
        let database = IcuDatabase { db };
        // SAFETY: `db` is an open database handle from duckdb_open_ext, as the
        // shim requires; the returned message is freed by the shim's own free.
        unsafe {
            let err = sluice_duckdb_load_icu(database.db);
            if !err.is_null() {
                let message = CStr::from_ptr(err).to_string_lossy().into_owned();
                sluice_duckdb_icu_free(err);
                return Err(format!("cannot load DuckDB's ICU extension: {message}"));
            }
        }
        Ok(database)
    }

    /// A connection to this database.
    pub fn connect(&self) -> Result<duckdb::Connection, duckdb::Error> {
        // SAFETY: `self.db` is an open database; the connection does not close it,
        // and the owner outlives it (see the type's doc).
        unsafe { duckdb::Connection::open_from_raw(self.db) }
    }
}

impl Drop for IcuDatabase {
    fn drop(&mut self) {
        // SAFETY: `db` was opened by `open` and is closed once; connections still
        // open keep DuckDB's instance alive on their own.
        unsafe { ffi::duckdb_close(&mut self.db) };
    }
}

#[cfg(unix)]
fn path_cstring(p: &Path) -> Result<CString, String> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).map_err(|e| e.to_string())
}

#[cfg(not(unix))]
fn path_cstring(p: &Path) -> Result<CString, String> {
    CString::new(p.to_string_lossy().as_bytes()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> String {
        let db = IcuDatabase::open(None).unwrap();
        let conn = db.connect().unwrap();
        conn.query_row(sql, [], |r| r.get::<_, String>(0)).unwrap()
    }

    #[test]
    fn time_zones_convert_as_icu_converts_them() {
        // 12:00 UTC on a summer day is 05:00 in Los Angeles (PDT, UTC-7).
        let sql = "select cast(timestamptz '2024-07-01 12:00:00+00' at time zone 'America/Los_Angeles' as varchar)";
        assert_eq!(one(sql), "2024-07-01 05:00:00");
    }

    #[test]
    fn icu_is_loaded_not_autoloaded() {
        let sql = "select cast(loaded as varchar) || ' ' || install_mode from duckdb_extensions() where extension_name = 'icu'";
        assert_eq!(one(sql), "true STATICALLY_LINKED");
    }
}
