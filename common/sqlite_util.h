#ifndef CUSTRA_COMMON_SQLITE_UTIL_H_
#define CUSTRA_COMMON_SQLITE_UTIL_H_

// Opening SQLite databases the way custra needs them, mapping SQLiteCpp's
// exceptions to absl::Status, and versioned schema migrations.

#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <span>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace custra {

// How durable a commit is. Both levels survive a crash of the process (an
// acknowledged write is in the WAL); only kFull also survives power loss or
// an OS crash, at the cost of an fsync per commit.
enum class SqliteSynchronous { kNormal, kFull };

struct SqliteOptions {
  // How long a statement waits for another connection's lock before failing
  // with SQLITE_BUSY (mapped to UNAVAILABLE). SQLite's default is 0.
  int busy_timeout_ms = 5000;
  SqliteSynchronous synchronous = SqliteSynchronous::kFull;
  // Page cache per connection, in KiB (SQLite's default is 2000 KiB, too
  // small for the random customer updates of a large import). Memory is
  // taken only as pages are used.
  int cache_kib = 64 * 1024;
  // Bytes of the database file read through mmap (0: none).
  int64_t mmap_bytes = int64_t{256} << 20;
  // Create the file if it does not exist.
  bool create = true;
  // Open for reading only (a database that exists, in WAL mode already).
  bool read_only = false;
};

// Opens (or creates) the database at `path` in WAL mode with foreign keys on
// and the given busy timeout and synchronous level. Errors: NOT_FOUND when
// the file does not exist and !options.create; otherwise as StatusFromSqlite.
absl::StatusOr<std::unique_ptr<SQLite::Database>> OpenSqlite(
    const std::string& path, const SqliteOptions& options);

// Maps a SQLite error to the closest canonical code: constraint violations
// -> ALREADY_EXISTS, busy/locked -> UNAVAILABLE (retryable), a full disk ->
// RESOURCE_EXHAUSTED, corruption or "not a database" -> DATA_LOSS, anything
// else -> INTERNAL. `context` says what was being done.
absl::Status StatusFromSqlite(const SQLite::Exception& e,
                              absl::string_view context);

// Runs `fn` and turns any SQLite::Exception it throws into a status.
// `fn` returns absl::Status or absl::StatusOr<T>.
template <typename Fn>
auto CatchSqlite(absl::string_view context, Fn&& fn) -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const SQLite::Exception& e) {
    return StatusFromSqlite(e, context);
  }
}

// One step of a schema: applying `sql` moves a database from version
// `version - 1` to `version` (SQLite's `PRAGMA user_version`).
struct Migration {
  int version;
  absl::string_view description;
  absl::string_view sql;
  // Run after `sql`, in the same transaction, for what SQL cannot express.
  void (*apply)(SQLite::Database& db) = nullptr;
};

// Applies, each in its own transaction, every migration newer than the
// database's user_version, in order. `migrations` must be sorted by version
// and contiguous from 1. Returns the final version. FAILED_PRECONDITION when
// the database is newer than the newest migration (written by a newer
// custra), leaving it untouched.
// The bytes of a BLOB (or TEXT) column.
std::string BlobOf(const SQLite::Column& column);

absl::StatusOr<int> Migrate(SQLite::Database& db,
                            std::span<const Migration> migrations);

// The database's `PRAGMA user_version`.
int SchemaVersion(SQLite::Database& db);

}  // namespace custra

#endif  // CUSTRA_COMMON_SQLITE_UTIL_H_
