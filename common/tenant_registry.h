#ifndef CUSTRA_COMMON_TENANT_REGISTRY_H_
#define CUSTRA_COMMON_TENANT_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/sqlite_util.h"
#include "common/transaction_log.h"

namespace custra {

// One tenant's open SQLite database.
//
// Thread-safe: the connection is reachable only through a Session, which
// holds the tenant's mutex, so a tenant has at most one writer at a time
// and its prepared statements are never shared between threads. Calls that
// only read may use a ReadSession, which reads through one of up to
// kMaxReaders read-only connections while the writer is busy.
class TenantDatabase {
 public:
  // `path` and `options` open the read-only connections of ReadSession;
  // without a path there are none (reads wait for the connection).
  TenantDatabase(std::string tenant_id, std::unique_ptr<Connection> db,
                 std::string path = "", SqliteOptions options = {})
      : tenant_id_(std::move(tenant_id)),
        path_(std::move(path)),
        options_(std::move(options)),
        db_(std::move(db)) {}
  TenantDatabase(const TenantDatabase&) = delete;
  TenantDatabase& operator=(const TenantDatabase&) = delete;
  // Folds what is pending before the connection closes.
  ~TenantDatabase();

  const std::string& tenant_id() const { return tenant_id_; }

  // What a Session needs. kFolded (the default) first folds the tenant's
  // transaction log, so the aggregates it reads include every acknowledged
  // row; kAsIs leaves the log as it is, for calls that do not read the
  // aggregates (transaction imports, which only append to the log, and the
  // opportunity service).
  enum class Purpose { kFolded, kAsIs };

  // Exclusive use of the connection for the Session's lifetime.
  class ABSL_SCOPED_LOCKABLE Session {
   public:
    explicit Session(TenantDatabase* tenant, Purpose purpose = Purpose::kFolded)
        ABSL_EXCLUSIVE_LOCK_FUNCTION(tenant->mu_)
        : tenant_(tenant) {
      tenant_->Enter(purpose);
    }
    ~Session() ABSL_UNLOCK_FUNCTION() { tenant_->Leave(); }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    Connection& db() { return *tenant_->db_; }
    IngestionState* ingestion_state() { return &tenant_->ingestion_; }
    // Folds the transaction log now (after a small write, so that readers
    // do not have to).
    void FoldPending() { tenant_->FoldIfPending(); }

   private:
    TenantDatabase* tenant_;
  };

  // Use of a connection for a call that only reads. It is the tenant's
  // connection when that is free. When a write or a long analysis holds it
  // and nothing awaits folding (for kFolded), the read goes to one of the
  // tenant's read-only connections instead, opened on first need (at most
  // kMaxReaders): in WAL mode it sees every committed transaction without
  // waiting for the writer. Otherwise it waits, like a Session.
  class ReadSession {
   public:
    explicit ReadSession(TenantDatabase* tenant,
                         Purpose purpose = Purpose::kFolded)
        ABSL_NO_THREAD_SAFETY_ANALYSIS;
    ~ReadSession() ABSL_NO_THREAD_SAFETY_ANALYSIS;
    ReadSession(const ReadSession&) = delete;
    ReadSession& operator=(const ReadSession&) = delete;

    Connection& db() { return reader_ ? *reader_ : *tenant_->db_; }
    // Whether the read goes to a read-only connection (for tests).
    bool on_reader() const { return reader_ != nullptr; }

   private:
    TenantDatabase* tenant_;
    std::unique_ptr<Connection> reader_;  // Null: the tenant's own.
  };
  static constexpr int kMaxReaders = 2;

  // Folds pending transaction batches if the tenant is free and no batch
  // was appended for `quiet`; for a background thread (never waits for the
  // tenant's mutex).
  void FoldIfIdle(absl::Duration quiet) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // A failed fold is logged and retried by the next session; its readers
  // see the aggregates as of the last fold.
  void FoldIfPending() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the connection for a session of `purpose`, and gives it back.
  void Enter(Purpose purpose) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu_) {
    mu_.Lock();
    if (purpose == Purpose::kFolded) FoldIfPending();
  }
  void Leave() ABSL_UNLOCK_FUNCTION(mu_) {
    PublishFoldState();
    mu_.Unlock();
  }
  // Copies whether batches await folding to fold_pending_, for readers that
  // do not hold mu_. Called before mu_ is released, so before any write's
  // acknowledgement leaves.
  void PublishFoldState() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    fold_pending_.store(ingestion_.fold_pending.value_or(true),
                        std::memory_order_release);
  }
  // A read-only connection, or null (none could be opened).
  std::unique_ptr<Connection> AcquireReader() ABSL_LOCKS_EXCLUDED(readers_mu_);
  void ReleaseReader(std::unique_ptr<Connection> reader)
      ABSL_LOCKS_EXCLUDED(readers_mu_);

  const std::string tenant_id_;
  const std::string path_;
  const SqliteOptions options_;
  absl::Mutex mu_;
  std::unique_ptr<Connection> db_ ABSL_PT_GUARDED_BY(mu_);
  IngestionState ingestion_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> fold_pending_{true};  // Until a session knows better.

  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_
      ABSL_GUARDED_BY(readers_mu_);
  int open_readers_ ABSL_GUARDED_BY(readers_mu_) = 0;
};

struct TenantRegistryOptions {
  // Tenant databases live in `<data_dir>/tenants/<id>.db`.
  std::filesystem::path data_dir;
  // At most this many databases stay open when idle (least recently used
  // are closed first). Databases in use are never evicted, so the bound can
  // be exceeded only while more tenants than this have calls in flight.
  size_t max_open = 256;
  SqliteOptions sqlite;
  // A tenant whose transaction imports pause this long has its log folded
  // in the background (zero: only when read or closed).
  absl::Duration fold_when_quiet = absl::Seconds(1);
};

// Finds, opens, creates and removes tenant databases.
//
// Thread-safe. Databases open lazily on first use and are kept in a bounded
// LRU. Every method validates the tenant id before it forms a path, so no
// request can name a file outside `<data_dir>/tenants`.
class TenantRegistry {
 public:
  // Creates `<data_dir>/tenants` if needed. INVALID_ARGUMENT for an empty
  // data_dir or max_open of 0; INTERNAL if the directory cannot be made.
  static absl::StatusOr<std::unique_ptr<TenantRegistry>> Open(
      TenantRegistryOptions options);

  TenantRegistry(const TenantRegistry&) = delete;
  TenantRegistry& operator=(const TenantRegistry&) = delete;
  ~TenantRegistry();

  // The tenant's database, opened (and migrated) if it is not open yet.
  // INVALID_ARGUMENT for a bad id; NOT_FOUND (reason TENANT_NOT_FOUND) when
  // the tenant has no database; FAILED_PRECONDITION if its schema is newer
  // than this server's.
  absl::StatusOr<std::shared_ptr<TenantDatabase>> Get(absl::string_view id);

  // Creates and migrates the tenant's database. ALREADY_EXISTS if the file
  // exists already.
  absl::Status Create(absl::string_view id);

  // Closes the tenant's database and deletes its files (database, WAL,
  // shared memory). NOT_FOUND if there is no database.
  absl::Status Remove(absl::string_view id);

  // Writes a consistent copy of the tenant's database to `destination`
  // using SQLite's online backup from a separate connection, so the
  // tenant's writers are not blocked. Returns the copy's size in bytes.
  absl::StatusOr<int64_t> Backup(absl::string_view id,
                                 const std::filesystem::path& destination);

  // Replaces the tenant's data with the database at `source` after checking
  // it (integrity_check ok, schema not newer than ours), creating the tenant
  // database if needed. The copy runs through SQLite's backup API into the
  // live database under the tenant's lock, so other connections see either
  // the old or the new data, never a mix. On any failure the live database
  // is unchanged. Migrates the restored data to the current schema.
  absl::Status Restore(absl::string_view id,
                       const std::filesystem::path& source);

  // Size in bytes and schema version of the tenant's database.
  struct Stats {
    int64_t size_bytes = 0;
    int schema_version = 0;
  };
  absl::StatusOr<Stats> GetStats(absl::string_view id);

  // Number of databases currently held open by the LRU.
  size_t open_count() const ABSL_LOCKS_EXCLUDED(mu_);

  // Closes every idle database (used at shutdown; in-use ones close when
  // released).
  void CloseAll() ABSL_LOCKS_EXCLUDED(mu_);

  std::filesystem::path PathOf(absl::string_view id) const;

 private:
  explicit TenantRegistry(TenantRegistryOptions options)
      : options_(std::move(options)) {}

  // Opens the database; idle databases it evicts go to `evicted`, to be
  // closed by the caller once the lock is released.
  absl::StatusOr<std::shared_ptr<TenantDatabase>> OpenLocked(
      absl::string_view id,
      std::vector<std::shared_ptr<TenantDatabase>>* evicted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked(absl::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Background folding of quiet tenants' transaction logs.
  void FoldQuietTenants() ABSL_LOCKS_EXCLUDED(mu_);

  const TenantRegistryOptions options_;
  absl::Notification stop_folding_;
  std::thread folder_;

  struct Entry {
    std::shared_ptr<TenantDatabase> database;
    std::list<std::string>::iterator lru_position;
  };
  mutable absl::Mutex mu_;
  // Most recently used first.
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Entry> open_ ABSL_GUARDED_BY(mu_);
};

}  // namespace custra

#endif  // CUSTRA_COMMON_TENANT_REGISTRY_H_
