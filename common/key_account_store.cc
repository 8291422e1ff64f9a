#include "common/key_account_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/request_log.h"
#include "common/sqlite_util.h"
#include "common/status_macros.h"

namespace custra {
namespace {

std::string KindList(std::span<const int> kinds) {
  return absl::StrJoin(kinds, ", ");
}

int64_t NextSeq(Connection& db, const char* table) {
  Connection::Statement select_handle =
      db.Prepare(absl::StrCat("SELECT coalesce(max(seq), 0) + 1 FROM ", table));
  SQLite::Statement& select = *select_handle;
  select.executeStep();
  return select.getColumn(0).getInt64();
}

constexpr char kModelColumns[] =
    "id, seq, model_type, converged, fit_time_us, record";
constexpr char kRunColumns[] =
    "id, seq, profile_id, as_of_day, create_time_us, record";

StoredItem ReadModel(SQLite::Statement& s) {
  StoredItem item;
  item.id = s.getColumn(0).getString();
  item.seq = s.getColumn(1).getInt64();
  item.type = s.getColumn(2).getInt();
  item.converged = s.getColumn(3).getInt() != 0;
  item.time_us = s.getColumn(4).getInt64();
  item.record = BlobOf(s.getColumn(5));
  return item;
}

StoredItem ReadRun(SQLite::Statement& s, int first = 0) {
  StoredItem item;
  item.id = s.getColumn(first).getString();
  item.seq = s.getColumn(first + 1).getInt64();
  item.profile_id = s.getColumn(first + 2).getString();
  item.as_of_day = s.getColumn(first + 3).getInt64();
  item.time_us = s.getColumn(first + 4).getInt64();
  item.record = BlobOf(s.getColumn(first + 5));
  return item;
}

AccountAssessment ReadAssessment(SQLite::Statement& s) {
  AccountAssessment a;
  a.customer_id = s.getColumn(0).getString();
  a.strategic_value = s.getColumn(1).getInt();
  a.cooperation = s.getColumn(2).getInt();
  if (!s.getColumn(3).isNull()) a.wallet_micros = s.getColumn(3).getInt64();
  a.note = s.getColumn(4).getString();
  a.assessed_by = s.getColumn(5).getString();
  a.update_time_us = s.getColumn(6).getInt64();
  return a;
}

constexpr char kAssessmentColumns[] =
    "customer_id, strategic_value, cooperation, wallet_micros, note, "
    "assessed_by, update_time_us";

StoredScore ReadScore(SQLite::Statement& s, bool with_detail) {
  StoredScore score;
  score.run_id = s.getColumn(0).getString();
  score.customer_id = s.getColumn(1).getString();
  score.score = s.getColumn(2).getDouble();
  score.tier = s.getColumn(3).getInt();
  score.rank = s.getColumn(4).getInt64();
  if (with_detail) score.detail = BlobOf(s.getColumn(5));
  return score;
}

constexpr char kScoreColumns[] =
    "run_id, customer_id, score, tier, rank, detail";

}  // namespace

absl::StatusOr<CustomerHistory> KeyAccountStore::LoadHistory(
    int64_t until_day, bool all_customers, std::span<const int> kinds) {
  return CatchSqlite(
      "reading purchase history", [&]() -> absl::StatusOr<CustomerHistory> {
        CustomerHistory history;
        std::string where = "1";
        if (!kinds.empty()) {
          where = absl::StrCat("c.kind IN (", KindList(kinds), ")");
        }
        Connection::Statement customers_handle =
            db_->Prepare(absl::StrCat("SELECT c.id, c.kind, c.display_name, "
                                      "c.wallet_micros FROM customers c WHERE ",
                                      where, " ORDER BY c.id"));
        SQLite::Statement& customers = *customers_handle;
        absl::flat_hash_map<std::string, size_t> index;
        while (customers.executeStep()) {
          CustomerHistory::Customer& c = history.customers.emplace_back();
          c.id = customers.getColumn(0).getString();
          c.kind = customers.getColumn(1).getInt();
          c.display_name = customers.getColumn(2).getString();
          if (!customers.getColumn(3).isNull()) {
            c.annual_wallet = customers.getColumn(3).getInt64();
          }
          index.emplace(c.id, history.customers.size() - 1);
        }
        // (customer index, day) rows, then grouped: one sort, no
        // per-customer vectors.
        struct Row {
          uint32_t customer;
          CustomerHistory::Day day;
        };
        std::vector<Row> rows;
        Connection::Statement days_handle = db_->Prepare(
            "SELECT customer_id, day, amount_micros, profit_micros, "
            "purchase_lines FROM customer_days WHERE day <= ?");
        SQLite::Statement& days = *days_handle;
        days.bind(1, static_cast<int64_t>(until_day));
        while (days.executeStep()) {
          const auto it = index.find(days.getColumn(0).getString());
          if (it == index.end()) continue;
          rows.push_back(
              {static_cast<uint32_t>(it->second),
               {days.getColumn(1).getInt64(), days.getColumn(2).getInt64(),
                days.getColumn(3).getInt64(),
                days.getColumn(4).getInt64() > 0}});
        }
        std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
          return a.customer != b.customer ? a.customer < b.customer
                                          : a.day.day < b.day.day;
        });
        history.days.reserve(rows.size());
        size_t at = 0;
        std::vector<CustomerHistory::Customer> kept;
        kept.reserve(history.customers.size());
        for (size_t i = 0; i < history.customers.size(); ++i) {
          CustomerHistory::Customer c = std::move(history.customers[i]);
          c.begin = history.days.size();
          while (at < rows.size() && rows[at].customer == i) {
            history.days.push_back(rows[at++].day);
          }
          c.end = history.days.size();
          if (all_customers || c.end > c.begin) kept.push_back(std::move(c));
        }
        history.customers = std::move(kept);
        return history;
      });
}

absl::StatusOr<bool> KeyAccountStore::HasCostData() {
  return CatchSqlite("reading tenant metadata", [&]() -> absl::StatusOr<bool> {
    Connection::Statement s_handle =
        db_->Prepare("SELECT 1 FROM tenant_meta WHERE key = 'has_cost'");
    SQLite::Statement& s = *s_handle;
    return s.executeStep();
  });
}

absl::StatusOr<std::optional<int64_t>>
KeyAccountStore::TransactionsWrittenMicros() {
  return CatchSqlite("reading tenant metadata",
                     [&]() -> absl::StatusOr<std::optional<int64_t>> {
                       Connection::Statement s_handle = db_->Prepare(
                           "SELECT value FROM tenant_meta WHERE key = "
                           "'transactions_written_us'");
                       SQLite::Statement& s = *s_handle;
                       if (!s.executeStep()) return std::nullopt;
                       return std::stoll(s.getColumn(0).getString());
                     });
}

absl::StatusOr<absl::flat_hash_map<std::string, int64_t>>
KeyAccountStore::ReferralCounts(int64_t from_us, int64_t until_us) {
  return CatchSqlite(
      "counting referrals",
      [&]() -> absl::StatusOr<absl::flat_hash_map<std::string, int64_t>> {
        // Kind 6 is INTERACTION_KIND_REFERRAL.
        Connection::Statement s_handle = db_->Prepare(
            "SELECT customer_id, count(*) FROM interactions "
            "WHERE kind = 6 AND time_us >= ? AND time_us < ? "
            "GROUP BY customer_id");
        SQLite::Statement& s = *s_handle;
        s.bind(1, static_cast<int64_t>(from_us));
        s.bind(2, static_cast<int64_t>(until_us));
        absl::flat_hash_map<std::string, int64_t> counts;
        while (s.executeStep()) {
          counts[s.getColumn(0).getString()] = s.getColumn(1).getInt64();
        }
        return counts;
      });
}

absl::StatusOr<std::optional<std::string>> KeyAccountStore::FindRequest(
    absl::string_view kind, absl::string_view request_id,
    absl::string_view fingerprint) {
  return CatchSqlite("reading the request log",
                     [&]() -> absl::StatusOr<std::optional<std::string>> {
                       return LoadRequest(*db_, kind, request_id, fingerprint);
                     });
}

absl::Status KeyAccountStore::SaveValueModel(StoredItem& item,
                                             absl::string_view request_id,
                                             absl::string_view fingerprint,
                                             absl::Time now) {
  return CatchSqlite("storing the value model", [&]() -> absl::Status {
    SQLite::Transaction txn(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    item.seq = NextSeq(*db_, "value_models");
    item.id = absl::StrFormat("vm-%06d", item.seq);
    Connection::Statement insert_handle =
        db_->Prepare(absl::StrCat("INSERT INTO value_models(", kModelColumns,
                                  ") VALUES (?, ?, ?, ?, ?, ?)"));
    SQLite::Statement& insert = *insert_handle;
    insert.bind(1, item.id);
    insert.bind(2, static_cast<int64_t>(item.seq));
    insert.bind(3, item.type);
    insert.bind(4, item.converged ? 1 : 0);
    insert.bind(5, static_cast<int64_t>(item.time_us));
    insert.bind(6, item.record.data(), static_cast<int>(item.record.size()));
    insert.exec();
    if (!request_id.empty()) {
      SaveRequest(*db_, "value_model", request_id, fingerprint, item.id, now);
    }
    txn.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<StoredItem> KeyAccountStore::GetValueModel(
    absl::string_view id) {
  return CatchSqlite(
      "reading the value model", [&]() -> absl::StatusOr<StoredItem> {
        Connection::Statement s_handle = db_->Prepare(absl::StrCat(
            "SELECT ", kModelColumns, " FROM value_models WHERE id = ?"));
        SQLite::Statement& s = *s_handle;
        s.bind(1, std::string(id));
        if (!s.executeStep()) return NotFoundFor("value model", id);
        return ReadModel(s);
      });
}

absl::StatusOr<std::vector<StoredItem>> KeyAccountStore::ListValueModels(
    std::optional<int> type, std::optional<bool> converged, int64_t before_seq,
    int limit) {
  return CatchSqlite(
      "listing value models", [&]() -> absl::StatusOr<std::vector<StoredItem>> {
        std::string where = "seq < ?1";
        if (type) absl::StrAppend(&where, " AND model_type = ?2");
        if (converged) absl::StrAppend(&where, " AND converged = ?3");
        Connection::Statement s_handle = db_->Prepare(
            absl::StrCat("SELECT ", kModelColumns, " FROM value_models WHERE ",
                         where, " ORDER BY seq DESC LIMIT ?4"));
        SQLite::Statement& s = *s_handle;
        s.bind(1,
               static_cast<int64_t>(before_seq > 0 ? before_seq : INT64_MAX));
        if (type) s.bind(2, *type);
        if (converged) s.bind(3, *converged ? 1 : 0);
        s.bind(4, limit);
        std::vector<StoredItem> out;
        while (s.executeStep()) out.push_back(ReadModel(s));
        return out;
      });
}

absl::StatusOr<std::optional<StoredItem>> KeyAccountStore::NewestConvergedModel(
    std::span<const int> types) {
  return CatchSqlite("reading value models",
                     [&]() -> absl::StatusOr<std::optional<StoredItem>> {
                       Connection::Statement s_handle =
                           db_->Prepare(absl::StrCat(
                               "SELECT ", kModelColumns,
                               " FROM value_models WHERE converged = 1 AND "
                               "model_type IN (",
                               KindList(types), ") ORDER BY seq DESC LIMIT 1"));
                       SQLite::Statement& s = *s_handle;
                       if (!s.executeStep()) return std::nullopt;
                       return ReadModel(s);
                     });
}

absl::StatusOr<std::optional<std::string>> KeyAccountStore::GetProfile(
    absl::string_view id) {
  return CatchSqlite("reading the scoring profile",
                     [&]() -> absl::StatusOr<std::optional<std::string>> {
                       Connection::Statement s_handle = db_->Prepare(
                           "SELECT record FROM scoring_profiles WHERE id = ?");
                       SQLite::Statement& s = *s_handle;
                       s.bind(1, std::string(id));
                       if (!s.executeStep()) return std::nullopt;
                       return BlobOf(s.getColumn(0));
                     });
}

absl::Status KeyAccountStore::PutProfile(absl::string_view id,
                                         const std::string& record) {
  return CatchSqlite("storing the scoring profile", [&]() -> absl::Status {
    Connection::Statement s_handle = db_->Prepare(
        "INSERT INTO scoring_profiles(id, record) VALUES (?, "
        "?) ON CONFLICT(id) DO UPDATE SET record = "
        "excluded.record");
    SQLite::Statement& s = *s_handle;
    s.bind(1, std::string(id));
    s.bind(2, record.data(), static_cast<int>(record.size()));
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> KeyAccountStore::CreateProfile(
    absl::string_view id, const std::string& record,
    absl::string_view request_id, absl::string_view fingerprint,
    absl::Time now) {
  return CatchSqlite(
      "creating the scoring profile", [&]() -> absl::StatusOr<std::string> {
        SQLite::Transaction txn(*db_, SQLite::TransactionBehavior::IMMEDIATE);
        if (!request_id.empty()) {
          CUSTRA_ASSIGN_OR_RETURN(
              std::optional<std::string> created,
              LoadRequest(*db_, "scoring_profile", request_id, fingerprint));
          if (created) {
            CUSTRA_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                                    GetProfile(*created));
            if (stored) return *stored;
          }
        }
        Connection::Statement insert_handle = db_->Prepare(
            "INSERT OR IGNORE INTO scoring_profiles(id, record) VALUES (?, ?)");
        SQLite::Statement& insert = *insert_handle;
        insert.bind(1, std::string(id));
        insert.bind(2, record.data(), static_cast<int>(record.size()));
        if (insert.exec() == 0) {
          return WithReason(absl::AlreadyExistsError(absl::StrCat(
                                "scoring profile ", id, " already exists")),
                            reason::kAlreadyExists);
        }
        if (!request_id.empty()) {
          SaveRequest(*db_, "scoring_profile", request_id, fingerprint,
                      std::string(id), now);
        }
        txn.commit();
        return record;
      });
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
KeyAccountStore::ListProfiles(absl::string_view after_id, int limit) {
  return CatchSqlite(
      "listing scoring profiles",
      [&]()
          -> absl::StatusOr<std::vector<std::pair<std::string, std::string>>> {
        // "default" sorts first: key (id != 'default', id).
        Connection::Statement s_handle = db_->Prepare(
            "SELECT id, record FROM scoring_profiles WHERE (id != 'default', "
            "id) > (?1 != 'default', ?1) OR ?1 = '' ORDER BY id != "
            "'default', id LIMIT ?2");
        SQLite::Statement& s = *s_handle;
        s.bind(1, std::string(after_id));
        s.bind(2, limit);
        std::vector<std::pair<std::string, std::string>> out;
        while (s.executeStep()) {
          out.emplace_back(s.getColumn(0).getString(), BlobOf(s.getColumn(1)));
        }
        return out;
      });
}

absl::Status KeyAccountStore::DeleteProfile(absl::string_view id) {
  return CatchSqlite("deleting the scoring profile", [&]() -> absl::Status {
    Connection::Statement s_handle =
        db_->Prepare("DELETE FROM scoring_profiles WHERE id = ?");
    SQLite::Statement& s = *s_handle;
    s.bind(1, std::string(id));
    if (s.exec() == 0) return NotFoundFor("scoring profile", id);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<AccountAssessment>> KeyAccountStore::SetAssessments(
    std::span<const AccountAssessment> assessments,
    const std::vector<std::string>* fields, absl::Time now) {
  return CatchSqlite(
      "storing assessments",
      [&]() -> absl::StatusOr<std::vector<AccountAssessment>> {
        SQLite::Transaction txn(*db_, SQLite::TransactionBehavior::IMMEDIATE);
        Connection::Statement exists_handle =
            db_->Prepare("SELECT 1 FROM customers WHERE id = ?");
        SQLite::Statement& exists = *exists_handle;
        Connection::Statement current_handle =
            db_->Prepare(absl::StrCat("SELECT ", kAssessmentColumns,
                                      " FROM account_assessments WHERE "
                                      "customer_id = ?"));
        SQLite::Statement& current = *current_handle;
        Connection::Statement upsert_handle = db_->Prepare(
            absl::StrCat("INSERT OR REPLACE INTO account_assessments(",
                         kAssessmentColumns, ") VALUES (?, ?, ?, ?, ?, ?, ?)"));
        SQLite::Statement& upsert = *upsert_handle;
        auto named = [&](absl::string_view f) {
          return fields == nullptr ||
                 std::find(fields->begin(), fields->end(), f) != fields->end();
        };
        std::vector<AccountAssessment> out;
        for (const AccountAssessment& in : assessments) {
          exists.bind(1, in.customer_id);
          const bool known = exists.executeStep();
          exists.reset();
          if (!known) return NotFoundFor("customer", in.customer_id);
          AccountAssessment stored;
          stored.customer_id = in.customer_id;
          current.bind(1, in.customer_id);
          if (current.executeStep()) stored = ReadAssessment(current);
          current.reset();
          if (named("strategic_value")) {
            stored.strategic_value = in.strategic_value;
          }
          if (named("cooperation")) stored.cooperation = in.cooperation;
          if (named("estimated_total_wallet")) {
            stored.wallet_micros = in.wallet_micros;
          }
          if (named("note")) stored.note = in.note;
          if (named("assessed_by")) stored.assessed_by = in.assessed_by;
          stored.update_time_us = absl::ToUnixMicros(now);
          upsert.bind(1, stored.customer_id);
          upsert.bind(2, stored.strategic_value);
          upsert.bind(3, stored.cooperation);
          if (stored.wallet_micros) {
            upsert.bind(4, static_cast<int64_t>(*stored.wallet_micros));
          } else {
            upsert.bind(4);
          }
          upsert.bind(5, stored.note);
          upsert.bind(6, stored.assessed_by);
          upsert.bind(7, static_cast<int64_t>(stored.update_time_us));
          upsert.exec();
          upsert.reset();
          out.push_back(std::move(stored));
        }
        txn.commit();
        return out;
      });
}

absl::StatusOr<std::vector<AccountAssessment>> KeyAccountStore::ListAssessments(
    absl::string_view after_id, int limit) {
  return CatchSqlite("listing assessments",
                     [&]() -> absl::StatusOr<std::vector<AccountAssessment>> {
                       Connection::Statement s_handle =
                           db_->Prepare(absl::StrCat(
                               "SELECT ", kAssessmentColumns,
                               " FROM account_assessments WHERE customer_id "
                               "> ? ORDER BY customer_id LIMIT ?"));
                       SQLite::Statement& s = *s_handle;
                       s.bind(1, std::string(after_id));
                       s.bind(2, limit);
                       std::vector<AccountAssessment> out;
                       while (s.executeStep()) out.push_back(ReadAssessment(s));
                       return out;
                     });
}

absl::StatusOr<absl::flat_hash_map<std::string, AccountAssessment>>
KeyAccountStore::AllAssessments() {
  CUSTRA_ASSIGN_OR_RETURN(std::vector<AccountAssessment> all,
                          ListAssessments("", INT32_MAX));
  absl::flat_hash_map<std::string, AccountAssessment> out;
  for (AccountAssessment& a : all) {
    std::string id = a.customer_id;
    out.emplace(std::move(id), std::move(a));
  }
  return out;
}

absl::Status KeyAccountStore::SaveScoringRun(
    StoredItem& run, std::span<const StoredScore> scores,
    absl::string_view request_id, absl::string_view fingerprint,
    absl::Time now) {
  return CatchSqlite("storing the scoring run", [&]() -> absl::Status {
    SQLite::Transaction txn(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    run.seq = NextSeq(*db_, "scoring_runs");
    run.id = absl::StrFormat("sr-%06d", run.seq);
    Connection::Statement insert_handle =
        db_->Prepare(absl::StrCat("INSERT INTO scoring_runs(", kRunColumns,
                                  ") VALUES (?, ?, ?, ?, ?, ?)"));
    SQLite::Statement& insert = *insert_handle;
    insert.bind(1, run.id);
    insert.bind(2, static_cast<int64_t>(run.seq));
    insert.bind(3, run.profile_id);
    insert.bind(4, static_cast<int64_t>(run.as_of_day));
    insert.bind(5, static_cast<int64_t>(run.time_us));
    insert.bind(6, run.record.data(), static_cast<int>(run.record.size()));
    insert.exec();
    Connection::Statement score_handle =
        db_->Prepare(absl::StrCat("INSERT INTO account_scores(", kScoreColumns,
                                  ") VALUES (?, ?, ?, ?, ?, ?)"));
    SQLite::Statement& score = *score_handle;
    for (const StoredScore& s : scores) {
      score.bind(1, run.id);
      score.bind(2, s.customer_id);
      score.bind(3, s.score);
      score.bind(4, s.tier);
      score.bind(5, static_cast<int64_t>(s.rank));
      score.bind(6, s.detail.data(), static_cast<int>(s.detail.size()));
      score.exec();
      score.reset();
    }
    if (!request_id.empty()) {
      SaveRequest(*db_, "scoring_run", request_id, fingerprint, run.id, now);
    }
    txn.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<StoredItem> KeyAccountStore::GetScoringRun(
    absl::string_view id) {
  return CatchSqlite(
      "reading the scoring run", [&]() -> absl::StatusOr<StoredItem> {
        Connection::Statement s_handle = db_->Prepare(absl::StrCat(
            "SELECT ", kRunColumns, " FROM scoring_runs WHERE id = ?"));
        SQLite::Statement& s = *s_handle;
        s.bind(1, std::string(id));
        if (!s.executeStep()) return NotFoundFor("scoring run", id);
        return ReadRun(s);
      });
}

absl::StatusOr<StoredItem> KeyAccountStore::NewestScoringRun() {
  return CatchSqlite(
      "reading the scoring run", [&]() -> absl::StatusOr<StoredItem> {
        Connection::Statement s_handle = db_->Prepare(
            absl::StrCat("SELECT ", kRunColumns,
                         " FROM scoring_runs ORDER BY seq DESC LIMIT 1"));
        SQLite::Statement& s = *s_handle;
        if (!s.executeStep()) {
          return WithReason(
              absl::NotFoundError(
                  "no accounts have been scored yet; run ScoreAccounts "
                  "(custra accounts score) first"),
              reason::kNotFound);
        }
        return ReadRun(s);
      });
}

absl::StatusOr<std::vector<StoredItem>> KeyAccountStore::ListScoringRuns(
    absl::string_view profile_id, int64_t before_seq, int limit) {
  return CatchSqlite(
      "listing scoring runs", [&]() -> absl::StatusOr<std::vector<StoredItem>> {
        Connection::Statement s_handle = db_->Prepare(
            absl::StrCat("SELECT ", kRunColumns,
                         " FROM scoring_runs WHERE seq < ?1 AND (?2 = "
                         "'' OR profile_id = ?2) ORDER BY seq DESC "
                         "LIMIT ?3"));
        SQLite::Statement& s = *s_handle;
        s.bind(1,
               static_cast<int64_t>(before_seq > 0 ? before_seq : INT64_MAX));
        s.bind(2, std::string(profile_id));
        s.bind(3, limit);
        std::vector<StoredItem> out;
        while (s.executeStep()) out.push_back(ReadRun(s));
        return out;
      });
}

absl::StatusOr<StoredScore> KeyAccountStore::GetScore(
    absl::string_view run_id, absl::string_view customer_id) {
  return CatchSqlite("reading the score", [&]() -> absl::StatusOr<StoredScore> {
    Connection::Statement s_handle =
        db_->Prepare(absl::StrCat("SELECT ", kScoreColumns,
                                  " FROM account_scores WHERE run_id = ? AND "
                                  "customer_id = ?"));
    SQLite::Statement& s = *s_handle;
    s.bind(1, std::string(run_id));
    s.bind(2, std::string(customer_id));
    if (!s.executeStep()) {
      return WithReason(
          absl::NotFoundError(absl::StrCat("account ", customer_id,
                                           " is not in scoring run ", run_id)),
          reason::kNotFound);
    }
    return ReadScore(s, true);
  });
}

absl::StatusOr<std::pair<std::vector<StoredScore>, int64_t>>
KeyAccountStore::TopScores(absl::string_view run_id, std::span<const int> tiers,
                           int64_t offset, int limit) {
  return CatchSqlite(
      "listing scores",
      [&]() -> absl::StatusOr<std::pair<std::vector<StoredScore>, int64_t>> {
        std::string where = "run_id = ?1";
        if (!tiers.empty()) {
          absl::StrAppend(&where, " AND tier IN (", KindList(tiers), ")");
        }
        Connection::Statement count_handle = db_->Prepare(
            absl::StrCat("SELECT count(*) FROM account_scores WHERE ", where));
        SQLite::Statement& count = *count_handle;
        count.bind(1, std::string(run_id));
        count.executeStep();
        const int64_t total = count.getColumn(0).getInt64();
        Connection::Statement s_handle = db_->Prepare(absl::StrCat(
            "SELECT ", kScoreColumns, " FROM account_scores WHERE ", where,
            " ORDER BY rank, customer_id LIMIT ?2 OFFSET "
            "?3"));
        SQLite::Statement& s = *s_handle;
        s.bind(1, std::string(run_id));
        s.bind(2, limit);
        s.bind(3, static_cast<int64_t>(offset));
        std::vector<StoredScore> out;
        while (s.executeStep()) out.push_back(ReadScore(s, true));
        return std::make_pair(std::move(out), total);
      });
}

absl::StatusOr<std::vector<StoredScore>> KeyAccountStore::RunScores(
    absl::string_view run_id) {
  return CatchSqlite("reading scores",
                     [&]() -> absl::StatusOr<std::vector<StoredScore>> {
                       Connection::Statement s_handle = db_->Prepare(
                           "SELECT run_id, customer_id, score, tier, rank "
                           "FROM account_scores WHERE run_id = ? ORDER BY "
                           "customer_id");
                       SQLite::Statement& s = *s_handle;
                       s.bind(1, std::string(run_id));
                       std::vector<StoredScore> out;
                       while (s.executeStep())
                         out.push_back(ReadScore(s, false));
                       return out;
                     });
}

absl::StatusOr<std::vector<std::pair<StoredItem, StoredScore>>>
KeyAccountStore::ScoreHistory(absl::string_view customer_id,
                              absl::string_view profile_id, int64_t offset,
                              int limit) {
  return CatchSqlite(
      "reading score history",
      [&]() -> absl::StatusOr<std::vector<std::pair<StoredItem, StoredScore>>> {
        Connection::Statement s_handle = db_->Prepare(
            "SELECT r.id, r.seq, r.profile_id, r.as_of_day, r.create_time_us, "
            "r.record, a.run_id, a.customer_id, a.score, a.tier, a.rank, "
            "a.detail FROM account_scores a JOIN scoring_runs r ON r.id = "
            "a.run_id WHERE a.customer_id = ?1 AND (?2 = '' OR r.profile_id "
            "= ?2) ORDER BY r.as_of_day DESC, r.seq DESC LIMIT ?3 OFFSET ?4");
        SQLite::Statement& s = *s_handle;
        s.bind(1, std::string(customer_id));
        s.bind(2, std::string(profile_id));
        s.bind(3, limit);
        s.bind(4, static_cast<int64_t>(offset));
        std::vector<std::pair<StoredItem, StoredScore>> out;
        while (s.executeStep()) {
          StoredItem run = ReadRun(s);
          StoredScore score;
          score.run_id = s.getColumn(6).getString();
          score.customer_id = s.getColumn(7).getString();
          score.score = s.getColumn(8).getDouble();
          score.tier = s.getColumn(9).getInt();
          score.rank = s.getColumn(10).getInt64();
          score.detail = BlobOf(s.getColumn(11));
          out.emplace_back(std::move(run), std::move(score));
        }
        return out;
      });
}

}  // namespace custra
