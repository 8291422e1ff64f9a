#ifndef CUSTRA_COMMON_KEY_ACCOUNT_STORE_H_
#define CUSTRA_COMMON_KEY_ACCOUNT_STORE_H_

// Storage side of KeyAccountService: the purchase history customer-value
// models and scoring read (the per-day rollups, never the raw
// transactions), and the stored value models, scoring profiles, account
// assessments and scoring runs. Records of models, profiles and runs are the
// server's encodings, opaque here.

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/sqlite_util.h"

namespace custra {

// Every customer's per-day rollups up to a day, grouped by customer.
struct CustomerHistory {
  struct Day {
    int64_t day = 0;        // UTC day number.
    int64_t amount = 0;     // Net revenue of the day, micros.
    int64_t profit = 0;     // Micros, over lines with a known cost.
    bool purchase = false;  // The day has a purchase line.
  };
  struct Customer {
    std::string id;
    int kind = 1;  // CustomerKind number.
    std::string display_name;
    std::optional<int64_t> annual_wallet;  // From the customer record.
    size_t begin = 0, end = 0;             // Its rows in `days`.
  };
  std::vector<Customer> customers;  // By id.
  std::vector<Day> days;            // Per customer, ascending by day.
};

// An account's manual criteria (KeyAccountAssessment).
struct AccountAssessment {
  std::string customer_id;
  int strategic_value = 0;  // 1..5; 0 = not assessed.
  int cooperation = 0;      // 1..5; 0 = not assessed.
  std::optional<int64_t> wallet_micros;
  std::string note;
  std::string assessed_by;
  int64_t update_time_us = 0;
};

// A stored model or scoring run: id, the columns lists filter on, and the
// server's record.
struct StoredItem {
  std::string id;
  int64_t seq = 0;
  int type = 0;  // Value models: ValueModelType. Runs: unused.
  bool converged = false;
  std::string profile_id;  // Scoring runs.
  int64_t as_of_day = 0;   // Scoring runs.
  int64_t time_us = 0;     // Fit / create time.
  std::string record;
};

// One account's stored score.
struct StoredScore {
  std::string run_id;
  std::string customer_id;
  double score = 0;
  int tier = 0;
  int64_t rank = 0;
  std::string detail;  // The server's encoding of the explanation.
};

// Reads and writes one tenant's key-account data.
//
// Not thread-safe: use it inside a TenantDatabase::Session. Each write is
// one transaction. Errors are INTERNAL / UNAVAILABLE from SQLite unless
// stated otherwise.
class KeyAccountStore {
 public:
  explicit KeyAccountStore(Connection* db) : db_(db) {}

  // Customers with at least one rollup day <= until_day (every customer
  // when `all_customers`), of the given kinds (empty: all), with their days
  // up to until_day.
  absl::StatusOr<CustomerHistory> LoadHistory(int64_t until_day,
                                              bool all_customers,
                                              std::span<const int> kinds);

  // Whether any transaction carries a cost or margin.
  absl::StatusOr<bool> HasCostData();
  // When transactions were last written; nullopt before any.
  absl::StatusOr<std::optional<int64_t>> TransactionsWrittenMicros();
  // REFERRAL interactions per customer with time in [from_us, until_us).
  absl::StatusOr<absl::flat_hash_map<std::string, int64_t>> ReferralCounts(
      int64_t from_us, int64_t until_us);

  // --- Value models ---
  // Assigns `item.id` ("vm-%06d") and seq, stores it (and the request id).
  absl::Status SaveValueModel(StoredItem& item, absl::string_view request_id,
                              absl::string_view fingerprint, absl::Time now);
  // The id stored for a request id; FAILED_PRECONDITION if it was used with
  // another fingerprint.
  absl::StatusOr<std::optional<std::string>> FindRequest(
      absl::string_view kind, absl::string_view request_id,
      absl::string_view fingerprint);
  // NOT_FOUND if absent.
  absl::StatusOr<StoredItem> GetValueModel(absl::string_view id);
  // Newest first (by seq), after `before_seq` (0: from the newest).
  absl::StatusOr<std::vector<StoredItem>> ListValueModels(
      std::optional<int> type, std::optional<bool> converged,
      int64_t before_seq, int limit);
  // The newest converged model of one of `types`; nullopt if none.
  absl::StatusOr<std::optional<StoredItem>> NewestConvergedModel(
      std::span<const int> types);

  // --- Scoring profiles ---
  absl::StatusOr<std::optional<std::string>> GetProfile(absl::string_view id);
  absl::Status PutProfile(absl::string_view id, const std::string& record);
  // Stores a new profile and returns its record. ALREADY_EXISTS if the id
  // is taken, unless `request_id` created it (then the stored record).
  absl::StatusOr<std::string> CreateProfile(absl::string_view id,
                                            const std::string& record,
                                            absl::string_view request_id,
                                            absl::string_view fingerprint,
                                            absl::Time now);
  // Profiles by id ("default" first), after `after_id`.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListProfiles(
      absl::string_view after_id, int limit);
  // NOT_FOUND if absent.
  absl::Status DeleteProfile(absl::string_view id);

  // --- Assessments ---
  // Writes the assessments in one transaction. With `fields` (a subset of
  // strategic_value, cooperation, estimated_total_wallet, note,
  // assessed_by) only those are written on existing rows. NOT_FOUND (and
  // nothing written) if a customer does not exist. Returns them as stored.
  absl::StatusOr<std::vector<AccountAssessment>> SetAssessments(
      std::span<const AccountAssessment> assessments,
      const std::vector<std::string>* fields, absl::Time now);
  absl::StatusOr<std::vector<AccountAssessment>> ListAssessments(
      absl::string_view after_id, int limit);
  // All assessments by customer id.
  absl::StatusOr<absl::flat_hash_map<std::string, AccountAssessment>>
  AllAssessments();

  // --- Scoring runs ---
  // Assigns `run.id` ("sr-%06d") and seq; stores the run and its scores.
  absl::Status SaveScoringRun(StoredItem& run,
                              std::span<const StoredScore> scores,
                              absl::string_view request_id,
                              absl::string_view fingerprint, absl::Time now);
  absl::StatusOr<StoredItem> GetScoringRun(absl::string_view id);
  // The newest run; NOT_FOUND if there is none.
  absl::StatusOr<StoredItem> NewestScoringRun();
  absl::StatusOr<std::vector<StoredItem>> ListScoringRuns(
      absl::string_view profile_id, int64_t before_seq, int limit);
  // NOT_FOUND if the account is not in the run.
  absl::StatusOr<StoredScore> GetScore(absl::string_view run_id,
                                       absl::string_view customer_id);
  // Scores by rank then customer id, of the given tiers (empty: all), from
  // `offset`; and the number matching.
  absl::StatusOr<std::pair<std::vector<StoredScore>, int64_t>> TopScores(
      absl::string_view run_id, std::span<const int> tiers, int64_t offset,
      int limit);
  // All scores of a run (without details), by customer id.
  absl::StatusOr<std::vector<StoredScore>> RunScores(absl::string_view run_id);
  // An account's scores, newest as-of date first (then newest run), of runs
  // made with `profile_id` (empty: all), from `offset`.
  absl::StatusOr<std::vector<std::pair<StoredItem, StoredScore>>> ScoreHistory(
      absl::string_view customer_id, absl::string_view profile_id,
      int64_t offset, int limit);

 private:
  Connection* db_;
};

}  // namespace custra

#endif  // CUSTRA_COMMON_KEY_ACCOUNT_STORE_H_
