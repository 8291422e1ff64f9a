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

#include "absl/container/flat_hash_map.h"
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
  // Bytes of the database file read through mmap (0: none, the default:
  // pages are read into the page cache above, which the memory budget
  // bounds; mapped pages would count in the process's RSS as the database
  // grows).
  int64_t mmap_bytes = 0;
  // Create the file if it does not exist.
  bool create = true;
  // Open for reading only (a database that exists, in WAL mode already).
  bool read_only = false;
};

// A database connection that keeps the statements prepared on it for reuse.
// Preparing a statement (parsing and planning its SQL) costs more than
// running the short indexed lookups that answer a read: before this cache,
// sqlite3_prepare_v2 took 61 % of the server's instructions under a read
// load (callgrind), ListTopAccounts preparing three statements per account.
//
// Used by one thread at a time, like the connection itself. Hold it by
// std::unique_ptr<Connection>, never through a pointer to SQLite::Database
// that deletes (the base has no virtual destructor).
class Connection : public SQLite::Database {
 public:
  using SQLite::Database::Database;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // A statement taken from the cache for the duration of one use: reset and
  // unbound when the handle goes out of scope, so it never keeps a read
  // transaction open or carries bindings into its next use.
  class Statement {
   public:
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&&) = delete;
    ~Statement();

    SQLite::Statement* operator->() { return statement_; }
    SQLite::Statement& operator*() { return *statement_; }

   private:
    friend class Connection;
    Statement(SQLite::Statement* statement, bool* in_use,
              std::unique_ptr<SQLite::Statement> owned);

    SQLite::Statement* statement_;
    bool* in_use_;  // The cache entry's flag; null for a one-off statement.
    std::unique_ptr<SQLite::Statement> owned_;  // A one-off statement.
  };

  // The statement for `sql`, prepared on its first use on this connection.
  // A statement already in use (the same SQL run again inside a loop over
  // its own rows), or one beyond the cache's capacity (generated SQL), is
  // prepared afresh for this use. Throws SQLite::Exception like
  // SQLite::Statement's constructor.
  Statement Prepare(const std::string& sql);

  // Statements cached (for tests).
  size_t cached_statements() const { return cache_.size(); }

  // At most this many statements are kept per connection: the schema's
  // fixed queries fit many times over, while generated SQL (filters with
  // varying clauses) cannot grow a connection without bound.
  static constexpr size_t kMaxCachedStatements = 128;

 private:
  struct Entry {
    explicit Entry(SQLite::Statement s) : statement(std::move(s)) {}
    SQLite::Statement statement;
    bool in_use = false;
  };
  // Destroyed before the base class closes the connection, so every
  // statement is finalized first.
  absl::flat_hash_map<std::string, std::unique_ptr<Entry>> cache_;
};

// Sets the memory budget of all SQLite connections of the process (their
// page caches, mostly), in bytes: SQLite's soft heap limit. Call before
// opening any database: without a budget, OpenSqlite turns off SQLite's
// memory statistics (a process-wide mutex on every allocation), and the
// limit is not enforced without them.
void SetSqliteMemoryBudget(int64_t bytes);

// Opens (or creates) the database at `path` in WAL mode with foreign keys on
// and the given busy timeout and synchronous level. Errors: NOT_FOUND when
// the file does not exist and !options.create; otherwise as StatusFromSqlite.
absl::StatusOr<std::unique_ptr<Connection>> OpenSqlite(
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
