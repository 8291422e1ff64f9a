#include "common/opportunity_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "common/request_log.h"
#include "common/sqlite_util.h"
#include "common/status_macros.h"

namespace custra {
namespace {

void BindBlob(SQLite::Statement& s, int index, const std::string& blob) {
  s.bind(index, blob.data(), static_cast<int>(blob.size()));
}

// Records of a (id, customer_id, record) table.
absl::StatusOr<OpportunityRecord> GetRecord(Connection& db, const char* table,
                                            absl::string_view what,
                                            absl::string_view id) {
  return CatchSqlite(absl::StrCat("reading ", what),
                     [&]() -> absl::StatusOr<OpportunityRecord> {
                       Connection::Statement s_handle = db.Prepare(
                           absl::StrCat("SELECT id, customer_id, record "
                                        "FROM ",
                                        table, " WHERE id = ?"));
                       SQLite::Statement& s = *s_handle;
                       s.bind(1, std::string(id));
                       if (!s.executeStep()) return NotFoundFor(what, id);
                       return OpportunityRecord{s.getColumn(0).getString(),
                                                s.getColumn(1).getString(),
                                                BlobOf(s.getColumn(2))};
                     });
}

absl::StatusOr<std::vector<OpportunityRecord>> AllRecords(Connection& db,
                                                          const char* table) {
  return CatchSqlite(
      absl::StrCat("reading ", table),
      [&]() -> absl::StatusOr<std::vector<OpportunityRecord>> {
        Connection::Statement s_handle = db.Prepare(absl::StrCat(
            "SELECT id, customer_id, record FROM ", table, " ORDER BY id"));
        SQLite::Statement& s = *s_handle;
        std::vector<OpportunityRecord> out;
        while (s.executeStep()) {
          out.push_back({s.getColumn(0).getString(), s.getColumn(1).getString(),
                         BlobOf(s.getColumn(2))});
        }
        return out;
      });
}

absl::Status InsertRecord(Connection& db, const char* table,
                          absl::string_view what, const OpportunityRecord& r) {
  return CatchSqlite(absl::StrCat("storing ", what), [&]() -> absl::Status {
    Connection::Statement s_handle =
        db.Prepare(absl::StrCat("INSERT OR IGNORE INTO ", table,
                                "(id, customer_id, record) VALUES "
                                "(?, ?, ?)"));
    SQLite::Statement& s = *s_handle;
    s.bind(1, r.id);
    s.bind(2, r.customer_id);
    BindBlob(s, 3, r.record);
    if (s.exec() == 0) {
      return WithReason(absl::AlreadyExistsError(
                            absl::StrCat(what, " ", r.id, " already exists")),
                        reason::kAlreadyExists);
    }
    return absl::OkStatus();
  });
}

absl::Status UpdateRecord(Connection& db, const char* table,
                          absl::string_view what, absl::string_view id,
                          const std::string& record) {
  return CatchSqlite(absl::StrCat("storing ", what), [&]() -> absl::Status {
    Connection::Statement s_handle = db.Prepare(
        absl::StrCat("UPDATE ", table, " SET record = ? WHERE id = ?"));
    SQLite::Statement& s = *s_handle;
    BindBlob(s, 1, record);
    s.bind(2, std::string(id));
    if (s.exec() == 0) return NotFoundFor(what, id);
    return absl::OkStatus();
  });
}

LogRecord ReadLog(SQLite::Statement& s) {
  LogRecord r;
  r.seq = s.getColumn(0).getInt64();
  r.owner_id = s.getColumn(1).getString();
  r.opportunity_id = s.getColumn(2).getString();
  r.time_us = s.getColumn(3).getInt64();
  r.record = BlobOf(s.getColumn(4));
  return r;
}

}  // namespace

absl::Status OpportunityStore::InTransaction(
    const std::function<absl::Status()>& writes) {
  return CatchSqlite("writing opportunity data", [&]() -> absl::Status {
    SQLite::Transaction txn(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    CUSTRA_RETURN_IF_ERROR(writes());
    txn.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> OpportunityStore::GetRemovedStages() {
  return CatchSqlite(
      "reading the pipeline", [&]() -> absl::StatusOr<std::string> {
        Connection::Statement s_handle = db_->Prepare(
            "SELECT value FROM tenant_meta WHERE key = 'removed_stages'");
        SQLite::Statement& s = *s_handle;
        return s.executeStep() ? s.getColumn(0).getString() : "";
      });
}

absl::Status OpportunityStore::PutRemovedStages(const std::string& encoded) {
  return CatchSqlite("storing the pipeline", [&]() -> absl::Status {
    Connection::Statement s_handle = db_->Prepare(
        "INSERT OR REPLACE INTO tenant_meta(key, value) "
        "VALUES ('removed_stages', ?)");
    SQLite::Statement& s = *s_handle;
    s.bind(1, encoded);
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<std::string>> OpportunityStore::GetPipeline() {
  return CatchSqlite("reading the pipeline",
                     [&]() -> absl::StatusOr<std::optional<std::string>> {
                       Connection::Statement s_handle =
                           db_->Prepare("SELECT record FROM pipeline");
                       SQLite::Statement& s = *s_handle;
                       if (!s.executeStep()) return std::nullopt;
                       return BlobOf(s.getColumn(0));
                     });
}

absl::Status OpportunityStore::PutPipeline(const std::string& record) {
  return CatchSqlite("storing the pipeline", [&]() -> absl::Status {
    Connection::Statement s_handle = db_->Prepare(
        "INSERT OR REPLACE INTO pipeline(id, record) VALUES "
        "(1, ?)");
    SQLite::Statement& s = *s_handle;
    BindBlob(s, 1, record);
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> OpportunityStore::CustomerExists(
    absl::string_view customer_id) {
  return CatchSqlite("reading customers", [&]() -> absl::StatusOr<bool> {
    Connection::Statement s_handle =
        db_->Prepare("SELECT 1 FROM customers WHERE id = ?");
    SQLite::Statement& s = *s_handle;
    s.bind(1, std::string(customer_id));
    return s.executeStep();
  });
}

absl::StatusOr<std::optional<std::string>> OpportunityStore::FindRequest(
    absl::string_view kind, absl::string_view request_id,
    absl::string_view fingerprint) {
  return CatchSqlite("reading the request log",
                     [&]() -> absl::StatusOr<std::optional<std::string>> {
                       return LoadRequest(*db_, kind, request_id, fingerprint);
                     });
}

absl::Status OpportunityStore::RememberRequest(absl::string_view kind,
                                               absl::string_view request_id,
                                               absl::string_view fingerprint,
                                               absl::string_view id,
                                               absl::Time now) {
  return CatchSqlite("remembering the request", [&]() -> absl::Status {
    SaveRequest(*db_, kind, request_id, fingerprint, std::string(id), now);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> OpportunityStore::NextId(absl::string_view table,
                                                     absl::string_view prefix) {
  return CatchSqlite("numbering", [&]() -> absl::StatusOr<std::string> {
    // The counter lives in tenant_meta so that ids are never reused,
    // even after deletes.
    const std::string key = absl::StrCat("next_", table);
    Connection::Statement next_handle = db_->Prepare(
        "INSERT INTO tenant_meta(key, value) VALUES (?1, '2') ON "
        "CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 "
        "RETURNING CAST(value AS INTEGER) - 1");
    SQLite::Statement& next = *next_handle;
    next.bind(1, key);
    next.executeStep();
    const int64_t n = next.getColumn(0).getInt64();
    return absl::StrFormat("%s-%06d", prefix, n);
  });
}

absl::Status OpportunityStore::InsertOpportunity(const OpportunityRecord& o) {
  return InsertRecord(*db_, "opportunities", "opportunity", o);
}

absl::Status OpportunityStore::UpdateOpportunity(absl::string_view id,
                                                 const std::string& record) {
  return UpdateRecord(*db_, "opportunities", "opportunity", id, record);
}

absl::StatusOr<OpportunityRecord> OpportunityStore::GetOpportunity(
    absl::string_view id) {
  return GetRecord(*db_, "opportunities", "opportunity", id);
}

absl::StatusOr<std::vector<OpportunityRecord>>
OpportunityStore::AllOpportunities() {
  return AllRecords(*db_, "opportunities");
}

absl::Status OpportunityStore::DeleteOpportunity(absl::string_view id) {
  return CatchSqlite("deleting the opportunity", [&]() -> absl::Status {
    Connection::Statement s_handle =
        db_->Prepare("DELETE FROM opportunities WHERE id = ?");
    SQLite::Statement& s = *s_handle;
    s.bind(1, std::string(id));
    if (s.exec() == 0) return NotFoundFor("opportunity", id);
    Connection::Statement history_handle =
        db_->Prepare("DELETE FROM stage_changes WHERE opportunity_id = ?");
    SQLite::Statement& history = *history_handle;
    history.bind(1, std::string(id));
    history.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> OpportunityStore::AppendStageChange(
    absl::string_view opportunity_id, int64_t time_us,
    const std::string& record) {
  return CatchSqlite("recording the stage change",
                     [&]() -> absl::StatusOr<int64_t> {
                       Connection::Statement s_handle = db_->Prepare(
                           "INSERT INTO stage_changes(opportunity_id, "
                           "change_time_us, record) VALUES (?, ?, ?)");
                       SQLite::Statement& s = *s_handle;
                       s.bind(1, std::string(opportunity_id));
                       s.bind(2, static_cast<int64_t>(time_us));
                       BindBlob(s, 3, record);
                       s.exec();
                       return db_->getLastInsertRowid();
                     });
}

absl::StatusOr<std::vector<LogRecord>> OpportunityStore::StageChanges(
    absl::string_view opportunity_id, int64_t after_seq, int limit) {
  return CatchSqlite(
      "reading stage changes", [&]() -> absl::StatusOr<std::vector<LogRecord>> {
        Connection::Statement s_handle = db_->Prepare(
            "SELECT seq, opportunity_id, opportunity_id, change_time_us, "
            "record FROM stage_changes WHERE opportunity_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?");
        SQLite::Statement& s = *s_handle;
        s.bind(1, std::string(opportunity_id));
        s.bind(2, static_cast<int64_t>(after_seq));
        s.bind(3, limit);
        std::vector<LogRecord> out;
        while (s.executeStep()) out.push_back(ReadLog(s));
        return out;
      });
}

absl::StatusOr<std::vector<LogRecord>> OpportunityStore::AllStageChanges() {
  return CatchSqlite(
      "reading stage changes", [&]() -> absl::StatusOr<std::vector<LogRecord>> {
        Connection::Statement s_handle = db_->Prepare(
            "SELECT seq, opportunity_id, opportunity_id, change_time_us, "
            "record FROM stage_changes ORDER BY opportunity_id, seq");
        SQLite::Statement& s = *s_handle;
        std::vector<LogRecord> out;
        while (s.executeStep()) out.push_back(ReadLog(s));
        return out;
      });
}

absl::Status OpportunityStore::InsertContact(const OpportunityRecord& c) {
  return InsertRecord(*db_, "contacts", "contact", c);
}

absl::Status OpportunityStore::UpdateContact(absl::string_view id,
                                             const std::string& record) {
  return UpdateRecord(*db_, "contacts", "contact", id, record);
}

absl::StatusOr<OpportunityRecord> OpportunityStore::GetContact(
    absl::string_view id) {
  return GetRecord(*db_, "contacts", "contact", id);
}

absl::StatusOr<std::vector<OpportunityRecord>> OpportunityStore::AllContacts() {
  return AllRecords(*db_, "contacts");
}

absl::Status OpportunityStore::DeleteContact(absl::string_view id) {
  return CatchSqlite("deleting the contact", [&]() -> absl::Status {
    Connection::Statement s_handle =
        db_->Prepare("DELETE FROM contacts WHERE id = ?");
    SQLite::Statement& s = *s_handle;
    s.bind(1, std::string(id));
    if (s.exec() == 0) return NotFoundFor("contact", id);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<std::string>> OpportunityStore::GetTrust(
    absl::string_view customer_id) {
  return CatchSqlite("reading the trust level",
                     [&]() -> absl::StatusOr<std::optional<std::string>> {
                       Connection::Statement s_handle = db_->Prepare(
                           "SELECT record FROM account_trust "
                           "WHERE customer_id = ?");
                       SQLite::Statement& s = *s_handle;
                       s.bind(1, std::string(customer_id));
                       if (!s.executeStep()) return std::nullopt;
                       return BlobOf(s.getColumn(0));
                     });
}

absl::Status OpportunityStore::PutTrust(absl::string_view customer_id,
                                        const std::string& record) {
  return CatchSqlite("storing the trust level", [&]() -> absl::Status {
    Connection::Statement s_handle = db_->Prepare(
        "INSERT OR REPLACE INTO account_trust(customer_id, "
        "record) VALUES (?, ?)");
    SQLite::Statement& s = *s_handle;
    s.bind(1, std::string(customer_id));
    BindBlob(s, 2, record);
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> OpportunityStore::AppendActivity(
    absl::string_view customer_id, absl::string_view opportunity_id,
    int64_t time_us, const std::string& record) {
  return CatchSqlite("recording the activity",
                     [&]() -> absl::StatusOr<int64_t> {
                       Connection::Statement s_handle = db_->Prepare(
                           "INSERT INTO sales_activities(customer_id, "
                           "opportunity_id, occur_time_us, record) VALUES "
                           "(?, ?, ?, ?)");
                       SQLite::Statement& s = *s_handle;
                       s.bind(1, std::string(customer_id));
                       s.bind(2, std::string(opportunity_id));
                       s.bind(3, static_cast<int64_t>(time_us));
                       BindBlob(s, 4, record);
                       s.exec();
                       return db_->getLastInsertRowid();
                     });
}

absl::StatusOr<LogRecord> OpportunityStore::GetActivity(int64_t seq) {
  return CatchSqlite("reading the activity",
                     [&]() -> absl::StatusOr<LogRecord> {
                       Connection::Statement s_handle = db_->Prepare(
                           "SELECT seq, customer_id, opportunity_id, "
                           "occur_time_us, record FROM sales_activities "
                           "WHERE seq = ?");
                       SQLite::Statement& s = *s_handle;
                       s.bind(1, static_cast<int64_t>(seq));
                       if (!s.executeStep()) {
                         return NotFoundFor("activity", absl::StrCat(seq));
                       }
                       return ReadLog(s);
                     });
}

absl::Status OpportunityStore::UpdateActivity(int64_t seq,
                                              const std::string& record) {
  return CatchSqlite("storing the activity", [&]() -> absl::Status {
    Connection::Statement s_handle =
        db_->Prepare("UPDATE sales_activities SET record = ? WHERE seq = ?");
    SQLite::Statement& s = *s_handle;
    BindBlob(s, 1, record);
    s.bind(2, static_cast<int64_t>(seq));
    if (s.exec() == 0) return NotFoundFor("activity", absl::StrCat(seq));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<LogRecord>> OpportunityStore::AllActivities() {
  return CatchSqlite("reading activities",
                     [&]() -> absl::StatusOr<std::vector<LogRecord>> {
                       Connection::Statement s_handle = db_->Prepare(
                           "SELECT seq, customer_id, opportunity_id, "
                           "occur_time_us, record FROM sales_activities "
                           "ORDER BY occur_time_us DESC, seq DESC");
                       SQLite::Statement& s = *s_handle;
                       std::vector<LogRecord> out;
                       while (s.executeStep()) out.push_back(ReadLog(s));
                       return out;
                     });
}

void EraseCustomerOpportunityData(Connection& db,
                                  absl::string_view customer_id) {
  auto erase = [&](const char* sql) {
    Connection::Statement s_handle = db.Prepare(sql);
    SQLite::Statement& s = *s_handle;
    s.bind(1, std::string(customer_id));
    s.exec();
  };
  erase(
      "DELETE FROM stage_changes WHERE opportunity_id IN (SELECT id FROM "
      "opportunities WHERE customer_id = ?)");
  erase("DELETE FROM opportunities WHERE customer_id = ?");
  erase("DELETE FROM contacts WHERE customer_id = ?");
  erase("DELETE FROM account_trust WHERE customer_id = ?");
  erase("DELETE FROM sales_activities WHERE customer_id = ?");
}

}  // namespace custra
