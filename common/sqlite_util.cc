#include "common/sqlite_util.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace custra {

namespace {

std::atomic<bool> memory_budget_set{false};

// Without a memory budget, turns off SQLite's global memory statistics,
// which take a process-wide mutex on every allocation. Must run before
// SQLite initialises; if it already has, SQLite refuses and nothing changes.
void ConfigureSqliteOnce() {
  static const bool configured = [] {
    if (!memory_budget_set) sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
}

}  // namespace

void SetSqliteMemoryBudget(int64_t bytes) {
  // SQLite enforces its soft heap limit only while it keeps memory
  // statistics (on by default), so they must stay on.
  memory_budget_set = true;
  sqlite3_soft_heap_limit64(bytes);
}

Connection::~Connection() = default;

Connection::Statement::Statement(SQLite::Statement* statement, bool* in_use,
                                 std::unique_ptr<SQLite::Statement> owned)
    : statement_(statement), in_use_(in_use), owned_(std::move(owned)) {}

Connection::Statement::Statement(Statement&& other) noexcept
    : statement_(other.statement_),
      in_use_(other.in_use_),
      owned_(std::move(other.owned_)) {
  other.statement_ = nullptr;
  other.in_use_ = nullptr;
}

Connection::Statement::~Statement() {
  if (in_use_ == nullptr) return;  // One-off (owned_ finalizes it) or moved.
  // tryReset() also ends the statement's implicit read transaction; its
  // result repeats the last step's error, already reported to the caller.
  statement_->tryReset();
  try {
    statement_->clearBindings();  // sqlite3_clear_bindings cannot fail.
  } catch (const SQLite::Exception&) {
  }
  *in_use_ = false;
}

Connection::Statement Connection::Prepare(const std::string& sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) {
    Entry& entry = *it->second;
    if (!entry.in_use) {
      entry.in_use = true;
      return Statement(&entry.statement, &entry.in_use, nullptr);
    }
  } else if (cache_.size() < kMaxCachedStatements) {
    auto entry = std::make_unique<Entry>(SQLite::Statement(*this, sql));
    Entry& added = *cache_.emplace(sql, std::move(entry)).first->second;
    added.in_use = true;
    return Statement(&added.statement, &added.in_use, nullptr);
  }
  auto owned = std::make_unique<SQLite::Statement>(*this, sql);
  SQLite::Statement* statement = owned.get();
  return Statement(statement, nullptr, std::move(owned));
}

absl::StatusOr<std::unique_ptr<Connection>> OpenSqlite(
    const std::string& path, const SqliteOptions& options) {
  ConfigureSqliteOnce();
  if (!options.create && !std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat("no database at ", path));
  }
  return CatchSqlite(
      absl::StrCat("opening ", path),
      [&]() -> absl::StatusOr<std::unique_ptr<Connection>> {
        // Each connection is used by one thread at a time (callers hold a
        // TenantDatabase::Session or the store's own mutex), so SQLite's
        // per-call connection mutex is pure overhead.
        int flags = (options.read_only ? SQLite::OPEN_READONLY
                                       : SQLite::OPEN_READWRITE) |
                    SQLITE_OPEN_NOMUTEX;
        if (options.create && !options.read_only) flags |= SQLite::OPEN_CREATE;
        auto db =
            std::make_unique<Connection>(path, flags, options.busy_timeout_ms);
        db->exec(absl::StrCat("PRAGMA cache_size=-", options.cache_kib));
        // A memory map saves a system call and a copy per page read; off
        // by default (segment_bench's RFM and ABC runs over 1M rows took
        // the same time without it).
        db->exec(absl::StrCat("PRAGMA mmap_size=", options.mmap_bytes));
        // The rest is the writer's: page size, journal mode, WAL limits.
        if (options.read_only) return db;
        // 16 KiB pages for new databases (an existing file keeps its own):
        // an import's commit writes a quarter as many WAL frames for its
        // log blob and id-index pages, and each frame costs a system call
        // or two (ingest_bench: commit time per batch 6.3 -> 3.7 ms).
        db->exec("PRAGMA page_size=16384");
        db->exec("PRAGMA journal_mode=WAL");
        db->exec(options.synchronous == SqliteSynchronous::kFull
                     ? "PRAGMA synchronous=FULL"
                     : "PRAGMA synchronous=NORMAL");
        db->exec("PRAGMA foreign_keys=ON");
        // Checkpoint every 64 MiB of WAL rather than SQLite's 1,000 pages:
        // a page updated by many consecutive batches is then copied to the
        // database once. The limit is in pages, whose size depends on the
        // file; the WAL is also truncated back to 64 MiB after a reset.
        constexpr int64_t kWalBytes = int64_t{64} << 20;
        const int64_t page_size = db->execAndGet("PRAGMA page_size").getInt64();
        db->exec(absl::StrCat("PRAGMA wal_autocheckpoint=",
                              kWalBytes / std::max<int64_t>(page_size, 512)));
        db->exec(absl::StrCat("PRAGMA journal_size_limit=", kWalBytes));
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
      if (m.apply != nullptr) m.apply(db);
      db.exec(absl::StrCat("PRAGMA user_version=", m.version));
      txn.commit();
      version = m.version;
    }
    return version;
  });
}

std::string BlobOf(const SQLite::Column& column) {
  return std::string(static_cast<const char*>(column.getBlob()),
                     static_cast<size_t>(column.getBytes()));
}

}  // namespace custra
