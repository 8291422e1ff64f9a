#include "common/tenant_registry.h"

#include <sqlite3.h>

#include <iostream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/ingestion_store.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"
#include "common/tenant_schema.h"

namespace custra {
namespace {

namespace fs = std::filesystem;

absl::Status TenantDatabaseNotFound(absl::string_view id) {
  return WithReason(
      absl::NotFoundError(absl::StrCat("tenant ", id, " has no database")),
      reason::kTenantNotFound);
}

int64_t FileSizeOrZero(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

}  // namespace

void TenantDatabase::FoldIfPending() {
  if (!ingestion_.fold_pending.has_value()) {
    absl::StatusOr<bool> pending = HasPendingTransactions(*db_);
    if (!pending.ok()) {
      std::cerr << "tenant " << tenant_id_ << ": " << pending.status() << "\n";
      return;
    }
    ingestion_.fold_pending = *pending;
  }
  if (!*ingestion_.fold_pending) return;
  absl::StatusOr<int64_t> folded = FoldPendingTransactions(*db_);
  if (!folded.ok()) {
    std::cerr << "tenant " << tenant_id_ << ": " << folded.status() << "\n";
    return;
  }
  ingestion_.fold_pending = false;
}

void TenantDatabase::FoldIfIdle(absl::Duration quiet) {
  if (!mu_.TryLock()) return;
  if (ingestion_.fold_pending.value_or(true) &&
      absl::Now() - ingestion_.last_append >= quiet) {
    FoldIfPending();
  }
  PublishFoldState();
  mu_.Unlock();
}

TenantDatabase::ReadSession::ReadSession(TenantDatabase* tenant,
                                         Purpose purpose)
    : tenant_(tenant) {
  // A free connection is taken (folding as a Session would); a busy one
  // is waited for only when a reader could miss acknowledged rows.
  if (tenant_->mu_.TryLock()) {
    if (purpose == Purpose::kFolded) tenant_->FoldIfPending();
    return;
  }
  if (purpose == Purpose::kAsIs ||
      !tenant_->fold_pending_.load(std::memory_order_acquire)) {
    reader_ = tenant_->AcquireReader();
    if (reader_ != nullptr) return;
  }
  tenant_->Enter(purpose);
}

TenantDatabase::ReadSession::~ReadSession() {
  if (reader_ != nullptr) {
    tenant_->ReleaseReader(std::move(reader_));
  } else {
    tenant_->Leave();
  }
}

std::unique_ptr<Connection> TenantDatabase::AcquireReader() {
  if (path_.empty()) return nullptr;
  {
    absl::MutexLock lock(&readers_mu_);
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(readers_mu_) {
      return !idle_readers_.empty() || open_readers_ < kMaxReaders;
    };
    readers_mu_.Await(absl::Condition(&available));
    if (!idle_readers_.empty()) {
      std::unique_ptr<Connection> reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return reader;
    }
    ++open_readers_;
  }
  SqliteOptions options = options_;
  options.create = false;
  options.read_only = true;
  absl::StatusOr<std::unique_ptr<Connection>> reader =
      OpenSqlite(path_, options);
  if (reader.ok()) return *std::move(reader);
  std::cerr << "tenant " << tenant_id_ << ": " << reader.status() << "\n";
  absl::MutexLock lock(&readers_mu_);
  --open_readers_;
  return nullptr;
}

void TenantDatabase::ReleaseReader(std::unique_ptr<Connection> reader) {
  absl::MutexLock lock(&readers_mu_);
  idle_readers_.push_back(std::move(reader));
}

TenantDatabase::~TenantDatabase() {
  absl::MutexLock lock(&mu_);
  if (db_ != nullptr) FoldIfPending();
}

TenantRegistry::~TenantRegistry() {
  stop_folding_.Notify();
  if (folder_.joinable()) folder_.join();
}

void TenantRegistry::FoldQuietTenants() {
  while (
      !stop_folding_.WaitForNotificationWithTimeout(absl::Milliseconds(200))) {
    // Weak references: a database counts as in use (and so is not evicted)
    // only while it is being checked or folded, not for the whole sweep.
    std::vector<std::weak_ptr<TenantDatabase>> open;
    {
      absl::MutexLock lock(&mu_);
      open.reserve(open_.size());
      for (const auto& [id, entry] : open_) open.push_back(entry.database);
    }
    for (const auto& weak : open) {
      if (std::shared_ptr<TenantDatabase> database = weak.lock()) {
        database->FoldIfIdle(options_.fold_when_quiet);
      }
    }
  }
}

absl::StatusOr<std::unique_ptr<TenantRegistry>> TenantRegistry::Open(
    TenantRegistryOptions options) {
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("the data directory is not set");
  }
  if (options.max_open == 0) {
    return absl::InvalidArgumentError("max_open must be at least 1");
  }
  std::error_code ec;
  fs::create_directories(options.data_dir / "tenants", ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create ",
                                            options.data_dir.string(),
                                            "/tenants: ", ec.message()));
  }
  const bool fold_in_background =
      options.fold_when_quiet > absl::ZeroDuration();
  auto registry =
      std::unique_ptr<TenantRegistry>(new TenantRegistry(std::move(options)));
  if (fold_in_background) {
    registry->folder_ =
        std::thread([r = registry.get()] { r->FoldQuietTenants(); });
  }
  return registry;
}

fs::path TenantRegistry::PathOf(absl::string_view id) const {
  return options_.data_dir / "tenants" / absl::StrCat(id, ".db");
}

absl::StatusOr<std::shared_ptr<TenantDatabase>> TenantRegistry::Get(
    absl::string_view id) {
  CUSTRA_RETURN_IF_ERROR(ValidateTenantId(id));
  // Evicted databases are closed (which may checkpoint the WAL) after the
  // lock is released, so one tenant's close never stalls the others.
  std::vector<std::shared_ptr<TenantDatabase>> evicted;
  absl::StatusOr<std::shared_ptr<TenantDatabase>> result;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = open_.find(id); it != open_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru_position);
      return it->second.database;
    }
    result = OpenLocked(id, &evicted);
  }
  evicted.clear();
  return result;
}

absl::StatusOr<std::shared_ptr<TenantDatabase>> TenantRegistry::OpenLocked(
    absl::string_view id,
    std::vector<std::shared_ptr<TenantDatabase>>* evicted) {
  SqliteOptions sqlite = options_.sqlite;
  sqlite.create = false;
  auto db = OpenSqlite(PathOf(id).string(), sqlite);
  if (absl::IsNotFound(db.status())) return TenantDatabaseNotFound(id);
  if (!db.ok()) return db.status();
  CUSTRA_RETURN_IF_ERROR(Migrate(**db, TenantMigrations()).status());

  // Evict idle databases, least recently used first. A database some call
  // still holds stays: evicting it would let the next Get open a second
  // connection to the same file, breaking "one writer per tenant".
  auto it = lru_.end();
  while (open_.size() >= options_.max_open && it != lru_.begin()) {
    --it;
    auto entry = open_.find(*it);
    if (entry->second.database.use_count() > 1) continue;
    evicted->push_back(std::move(entry->second.database));
    open_.erase(entry);
    it = lru_.erase(it);
  }
  auto database = std::make_shared<TenantDatabase>(
      std::string(id), *std::move(db), PathOf(id).string(), sqlite);
  lru_.emplace_front(id);
  open_.emplace(std::string(id), Entry{database, lru_.begin()});
  return database;
}

void TenantRegistry::EvictLocked(absl::string_view id) {
  auto it = open_.find(id);
  if (it == open_.end()) return;
  lru_.erase(it->second.lru_position);
  open_.erase(it);
}

absl::Status TenantRegistry::Create(absl::string_view id) {
  CUSTRA_RETURN_IF_ERROR(ValidateTenantId(id));
  absl::MutexLock lock(&mu_);
  const fs::path path = PathOf(id);
  if (fs::exists(path)) {
    return WithReason(absl::AlreadyExistsError(absl::StrCat(
                          "tenant ", id, " already has a database")),
                      reason::kTenantExists);
  }
  CUSTRA_ASSIGN_OR_RETURN(std::unique_ptr<Connection> db,
                          OpenSqlite(path.string(), options_.sqlite));
  absl::Status migrated = Migrate(*db, TenantMigrations()).status();
  if (!migrated.ok()) {
    db.reset();
    std::error_code ec;
    fs::remove(path, ec);
    return migrated;
  }
  return absl::OkStatus();
}

absl::Status TenantRegistry::Remove(absl::string_view id) {
  CUSTRA_RETURN_IF_ERROR(ValidateTenantId(id));
  absl::MutexLock lock(&mu_);
  EvictLocked(id);
  const fs::path path = PathOf(id);
  if (!fs::exists(path)) return TenantDatabaseNotFound(id);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    fs::remove(fs::path(path.string() + suffix), ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot remove ", path.string(),
                                              suffix, ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> TenantRegistry::Backup(absl::string_view id,
                                               const fs::path& destination) {
  CUSTRA_RETURN_IF_ERROR(ValidateTenantId(id));
  const fs::path path = PathOf(id);
  if (!fs::exists(path)) return TenantDatabaseNotFound(id);
  CUSTRA_RETURN_IF_ERROR(CatchSqlite("backing up tenant", [&] {
    SQLite::Database source(path.string(), SQLite::OPEN_READONLY,
                            options_.sqlite.busy_timeout_ms);
    SQLite::Database target(destination.string(),
                            SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    SQLite::Backup backup(target, source);
    // All pages in one step: a consistent snapshot.
    if (backup.executeStep() != SQLITE_DONE) {
      return WithReason(absl::UnavailableError("the tenant database is busy; "
                                               "retry the backup"),
                        reason::kUnavailable);
    }
    return absl::OkStatus();
  }));
  return FileSizeOrZero(destination);
}

absl::Status TenantRegistry::Restore(absl::string_view id,
                                     const fs::path& source) {
  CUSTRA_RETURN_IF_ERROR(ValidateTenantId(id));
  absl::Status checked = CatchSqlite("checking the backup", [&] {
    SQLite::Database upload(source.string(), SQLite::OPEN_READONLY);
    const std::string integrity =
        upload.execAndGet("PRAGMA integrity_check").getString();
    if (integrity != "ok") {
      return absl::InvalidArgumentError(absl::StrCat(
          "the backup fails SQLite's integrity check: ", integrity));
    }
    const int version = SchemaVersion(upload);
    const int newest = TenantMigrations().back().version;
    if (version < 1 || !upload.tableExists("tenant_meta")) {
      return absl::InvalidArgumentError(
          "the file is an SQLite database but not a custra tenant backup");
    }
    if (version > newest) {
      return absl::FailedPreconditionError(
          absl::StrCat("the backup has schema version ", version,
                       ", newer than this server's ", newest));
    }
    return absl::OkStatus();
  });
  if (absl::IsDataLoss(checked) || absl::IsInternal(checked)) {
    // SQLite could not read it: the upload is at fault, not the server.
    return InvalidFieldError("chunk", absl::StrCat("the upload is not a valid "
                                                   "SQLite database (",
                                                   checked.message(), ")"));
  }
  CUSTRA_RETURN_IF_ERROR(checked);

  if (!fs::exists(PathOf(id))) {
    absl::Status created = Create(id);
    if (!created.ok() && !absl::IsAlreadyExists(created)) return created;
  }
  CUSTRA_ASSIGN_OR_RETURN(std::shared_ptr<TenantDatabase> tenant, Get(id));
  TenantDatabase::Session session(tenant.get());
  return CatchSqlite("restoring tenant", [&]() -> absl::Status {
    SQLite::Database upload(source.string(), SQLite::OPEN_READONLY);
    SQLite::Backup backup(session.db(), upload);
    if (backup.executeStep() != SQLITE_DONE) {
      return WithReason(absl::UnavailableError("the tenant database is busy; "
                                               "retry the restore"),
                        reason::kUnavailable);
    }
    return Migrate(session.db(), TenantMigrations()).status();
  });
}

absl::StatusOr<TenantRegistry::Stats> TenantRegistry::GetStats(
    absl::string_view id) {
  CUSTRA_ASSIGN_OR_RETURN(std::shared_ptr<TenantDatabase> tenant, Get(id));
  Stats stats;
  stats.size_bytes = FileSizeOrZero(PathOf(id));
  TenantDatabase::Session session(tenant.get());
  CUSTRA_RETURN_IF_ERROR(CatchSqlite("reading schema version", [&] {
    stats.schema_version = SchemaVersion(session.db());
    return absl::OkStatus();
  }));
  return stats;
}

size_t TenantRegistry::open_count() const {
  absl::MutexLock lock(&mu_);
  return open_.size();
}

void TenantRegistry::CloseAll() {
  absl::MutexLock lock(&mu_);
  open_.clear();
  lru_.clear();
}

}  // namespace custra
