#ifndef CUSTRA_COMMON_OPPORTUNITY_STORE_H_
#define CUSTRA_COMMON_OPPORTUNITY_STORE_H_

// Storage side of OpportunityService: the tenant's pipeline, opportunities
// (with their contact links), stage history, account contacts, trust levels
// and sales activities. Records are the server's encodings, opaque here; the
// columns beside them are what lookups and cascades need. A B2B tenant has
// thousands of deals, not millions, so reports read the records whole.

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/sqlite_util.h"

namespace custra {

// A stored record with its key columns.
struct OpportunityRecord {
  std::string id;
  std::string customer_id;
  std::string record;
};

// One entry of a log (stage changes, activities): its sequence number (the
// id), owner and time, and the record.
struct LogRecord {
  int64_t seq = 0;
  std::string owner_id;  // The opportunity (changes) or account (activities).
  std::string opportunity_id;  // Activities: empty for account-level ones.
  int64_t time_us = 0;
  std::string record;
};

// Reads and writes one tenant's opportunity data.
//
// Not thread-safe: use it inside a TenantDatabase::Session. Each method is
// one statement or one transaction. Errors are INTERNAL / UNAVAILABLE from
// SQLite unless stated otherwise.
class OpportunityStore {
 public:
  explicit OpportunityStore(Connection* db) : db_(db) {}

  // Runs `writes` (calls on this store) in one transaction: committed when
  // it returns OK, rolled back otherwise.
  absl::Status InTransaction(const std::function<absl::Status()>& writes);

  // Stage ids removed by earlier pipeline updates -> where their
  // opportunities went ("a=b" pairs joined by ";"); empty if none.
  absl::StatusOr<std::string> GetRemovedStages();
  absl::Status PutRemovedStages(const std::string& encoded);

  // The stored pipeline record; nullopt if the tenant never changed it.
  absl::StatusOr<std::optional<std::string>> GetPipeline();
  absl::Status PutPipeline(const std::string& record);

  // Whether the customer exists (accounts are customers).
  absl::StatusOr<bool> CustomerExists(absl::string_view customer_id);

  // The id stored for a request id of `kind`; FAILED_PRECONDITION if it was
  // used with another fingerprint.
  absl::StatusOr<std::optional<std::string>> FindRequest(
      absl::string_view kind, absl::string_view request_id,
      absl::string_view fingerprint);
  absl::Status RememberRequest(absl::string_view kind,
                               absl::string_view request_id,
                               absl::string_view fingerprint,
                               absl::string_view id, absl::Time now);

  // A fresh id "<prefix>-%06d" for `table` (opportunities or contacts).
  absl::StatusOr<std::string> NextId(absl::string_view table,
                                     absl::string_view prefix);

  // --- Opportunities ---
  // ALREADY_EXISTS if the id is taken.
  absl::Status InsertOpportunity(const OpportunityRecord& opportunity);
  // NOT_FOUND if absent.
  absl::Status UpdateOpportunity(absl::string_view id,
                                 const std::string& record);
  absl::StatusOr<OpportunityRecord> GetOpportunity(absl::string_view id);
  // Every opportunity, by id.
  absl::StatusOr<std::vector<OpportunityRecord>> AllOpportunities();
  // Erases the opportunity and its stage history (wrap in InTransaction);
  // its activities stay on the account. NOT_FOUND if absent.
  absl::Status DeleteOpportunity(absl::string_view id);

  // --- Stage history ---
  // Appends an entry; returns its sequence number.
  absl::StatusOr<int64_t> AppendStageChange(absl::string_view opportunity_id,
                                            int64_t time_us,
                                            const std::string& record);
  // An opportunity's entries, oldest first, after `after_seq`.
  absl::StatusOr<std::vector<LogRecord>> StageChanges(
      absl::string_view opportunity_id, int64_t after_seq, int limit);
  // Every entry of every opportunity, by opportunity then sequence.
  absl::StatusOr<std::vector<LogRecord>> AllStageChanges();

  // --- Contacts ---
  absl::Status InsertContact(const OpportunityRecord& contact);
  absl::Status UpdateContact(absl::string_view id, const std::string& record);
  absl::StatusOr<OpportunityRecord> GetContact(absl::string_view id);
  absl::StatusOr<std::vector<OpportunityRecord>> AllContacts();
  absl::Status DeleteContact(absl::string_view id);

  // --- Trust ---
  absl::StatusOr<std::optional<std::string>> GetTrust(
      absl::string_view customer_id);
  absl::Status PutTrust(absl::string_view customer_id,
                        const std::string& record);

  // --- Activities ---
  // Appends an activity; returns its sequence number.
  absl::StatusOr<int64_t> AppendActivity(absl::string_view customer_id,
                                         absl::string_view opportunity_id,
                                         int64_t time_us,
                                         const std::string& record);
  // NOT_FOUND if absent.
  absl::StatusOr<LogRecord> GetActivity(int64_t seq);
  absl::Status UpdateActivity(int64_t seq, const std::string& record);
  // Every activity, newest first (time, then sequence).
  absl::StatusOr<std::vector<LogRecord>> AllActivities();

 private:
  Connection* db_;
};

// Erases a customer's opportunities (with their history), contacts, trust
// and activities; part of IngestionStore::DeleteCustomer's transaction.
// Throws SQLite::Exception on errors.
void EraseCustomerOpportunityData(Connection& db,
                                  absl::string_view customer_id);

}  // namespace custra

#endif  // CUSTRA_COMMON_OPPORTUNITY_STORE_H_
