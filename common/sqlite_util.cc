#include "common/sqlite_util.h"

#include <sqlite3.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace custra {

absl::StatusOr<std::unique_ptr<SQLite::Database>> OpenSqlite(
    const std::string& path, const SqliteOptions& options) {
  if (!options.create && !std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat("no database at ", path));
  }
  return CatchSqlite(
      absl::StrCat("opening ", path),
      [&]() -> absl::StatusOr<std::unique_ptr<SQLite::Database>> {
        int flags = SQLite::OPEN_READWRITE | SQLite::OPEN_FULLMUTEX;
        if (options.create) flags |= SQLite::OPEN_CREATE;
        auto db = std::make_unique<SQLite::Database>(path, flags,
                                                     options.busy_timeout_ms);
        db->exec("PRAGMA journal_mode=WAL");
        db->exec(options.synchronous == SqliteSynchronous::kFull
                     ? "PRAGMA synchronous=FULL"
                     : "PRAGMA synchronous=NORMAL");
        db->exec("PRAGMA foreign_keys=ON");
        return db;
      });
}

absl::Status StatusFromSqlite(const SQLite::Exception& e,
                              absl::string_view context) {
  const std::string message = absl::StrCat(context, ": ", e.what());
  switch (e.getErrorCode()) {
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return WithReason(absl::UnavailableError(message), reason::kUnavailable);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    default:
      return absl::InternalError(message);
  }
}

int SchemaVersion(SQLite::Database& db) {
  return db.execAndGet("PRAGMA user_version").getInt();
}

absl::StatusOr<int> Migrate(SQLite::Database& db,
                            std::span<const Migration> migrations) {
  return CatchSqlite("migrating schema", [&]() -> absl::StatusOr<int> {
    const int newest = migrations.empty() ? 0 : migrations.back().version;
    int version = SchemaVersion(db);
    if (version > newest) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database schema version ", version,
          " is newer than this server understands (", newest, ")"));
    }
    for (const Migration& m : migrations) {
      if (m.version <= version) continue;
      SQLite::Transaction txn(db);
      db.exec(std::string(m.sql));
      db.exec(absl::StrCat("PRAGMA user_version=", m.version));
      txn.commit();
      version = m.version;
    }
    return version;
  });
}

}  // namespace custra
