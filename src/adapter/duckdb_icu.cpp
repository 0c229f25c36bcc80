// Loads DuckDB's ICU extension (vendor/duckdb-icu, linked statically by build.rs)
// into a database opened through the C API: the bundled DuckDB has no ICU, and
// dbt-duckdb always has it (time zones, TIMESTAMPTZ functions, collations).

#include "duckdb.hpp"
#include "duckdb/main/capi/capi_internal.hpp"
#include "icu_extension.hpp"

#include <cstring>
#include <exception>

extern "C" {

// Returns null on success, else an error message the caller frees with
// sluice_duckdb_icu_free.
char *sluice_duckdb_load_icu(duckdb_database database) {
	try {
		// duckdb_open_ext hands out a DatabaseWrapper as the opaque handle.
		auto wrapper = reinterpret_cast<duckdb::DatabaseWrapper *>(database);
		wrapper->database->LoadStaticExtension<duckdb::IcuExtension>();
		return nullptr;
	} catch (std::exception &e) {
		return strdup(e.what());
	} catch (...) {
		return strdup("unknown error loading the ICU extension");
	}
}

void sluice_duckdb_icu_free(char *message) {
	free(message);
}
}
