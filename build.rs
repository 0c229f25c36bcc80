//! Compiles DuckDB's ICU extension (vendor/duckdb-icu) and the shim that loads it
//! (src/adapter/duckdb_icu.cpp) against the headers of the bundled DuckDB, which
//! is built without ICU. See vendor/duckdb-icu/SLUICE.md.

use std::path::PathBuf;

const ICU_SOURCES: &[&str] = &[
    "collation/collation_collator.cpp",
    "collation/collation_loader.cpp",
    "collation/collation_normalizer.cpp",
    "collation/generated/collation_data.cpp",
    "datetime/astronomy.cpp",
    "datetime/calendar.cpp",
    "datetime/chinese.cpp",
    "datetime/coptic.cpp",
    "datetime/grego.cpp",
    "datetime/gregorian.cpp",
    "datetime/hebrew.cpp",
    "datetime/islamic.cpp",
    "datetime/japanese.cpp",
    "datetime/persian.cpp",
    "datetime/timezone.cpp",
    "datetime/tz_loader.cpp",
    "datetime/generated/tz_data.cpp",
    "icu_extension.cpp",
    "icu-current.cpp",
    "icu-dateadd.cpp",
    "icu-datefunc.cpp",
    "icu-datepart.cpp",
    "icu-datesub.cpp",
    "icu-datetrunc.cpp",
    "icu-makedate.cpp",
    "icu-list-range.cpp",
    "icu-table-range.cpp",
    "icu-strptime.cpp",
    "icu-timebucket.cpp",
    "icu-timezone.cpp",
];

// A build script reports failure by panicking: cargo prints the message.
#[allow(clippy::panic)]
fn main() {
    let Some(include) = std::env::var_os("DEP_DUCKDB_INCLUDE").map(PathBuf::from) else {
        panic!("libduckdb-sys did not publish DEP_DUCKDB_INCLUDE: is its `bundled` feature on?");
    };
    // include = <sources>/duckdb/src/include. DuckDB's headers include its
    // third-party ones (fmt, zstd, ...): the include folders its manifest lists,
    // as libduckdb-sys compiles DuckDB with them.
    let duckdb_root = include.join("../..");
    let manifest_path = duckdb_root.join("manifest.json");
    let manifest: serde_json::Value = match std::fs::read(&manifest_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("cannot parse {}: {e}", manifest_path.display())),
        Err(e) => panic!("cannot read {}: {e}", manifest_path.display()),
    };
    let include_dirs: Vec<PathBuf> = manifest["base"]["include_dirs"]
        .as_array()
        .map(|dirs| {
            dirs.iter()
                .filter_map(|d| d.as_str())
                .map(|d| duckdb_root.join(d))
                .collect()
        })
        .unwrap_or_default();
    let icu = PathBuf::from("vendor/duckdb-icu");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .warnings(false)
        .flag_if_supported("-w")
        .include(&include)
        .includes(&include_dirs)
        .include(&icu)
        .include(icu.join("include"))
        .include(icu.join("collation/include"))
        .include(icu.join("datetime/include"))
        .file("src/adapter/duckdb_icu.cpp");
    // The same choice libduckdb-sys makes, so that DuckDB's headers lay out their
    // types as the library was compiled.
    let debug = std::env::var("DEBUG").is_ok_and(|v| v != "false" && v != "0");
    build.define(if debug { "DEBUG" } else { "NDEBUG" }, None);
    for file in ICU_SOURCES {
        build.file(icu.join(file));
    }
    build.compile("sluice_duckdb_icu");
    println!("cargo:rerun-if-changed=vendor/duckdb-icu");
    println!("cargo:rerun-if-changed=src/adapter/duckdb_icu.cpp");
}
