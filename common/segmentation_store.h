#ifndef CUSTRA_COMMON_SEGMENTATION_STORE_H_
#define CUSTRA_COMMON_SEGMENTATION_STORE_H_

// Storage side of SegmentationService: reads the per-customer aggregates and
// rollups the models need (never the raw transactions, DESIGN.md §4), and
// stores runs with their members.

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/ingestion_store.h"
#include "common/segmentation_models.h"
#include "common/sqlite_util.h"

namespace custra {

// UTC day number (days since 1970-01-01) of a time in Unix microseconds.
int64_t DayOfMicros(int64_t time_us);

// A run's window: [start_day, as_of_day], start unset = all history.
struct RunWindow {
  std::optional<int64_t> start_day;
  int64_t as_of_day = 0;
};

// A stored run: the server's encoding of its record (opaque here) plus what
// lists and lookups need.
struct StoredRun {
  std::string id;
  int model = 0;  // SegmentationModelKind number.
  int64_t create_time_us = 0;
  std::string record;  // The server's encoding of the run.
};

// Members packed for storage: fixed-size records sorted by customer id, then
// the ids, so one customer is found by binary search without decoding all.
std::string EncodeMembers(std::span<const SegmentMember> members);
// nullopt if `blob` is not an encoding of members.
std::optional<std::vector<SegmentMember>> DecodeMembers(absl::string_view blob);
// The member with this id; nullopt if absent or the blob is malformed.
std::optional<SegmentMember> FindMember(absl::string_view blob,
                                        absl::string_view customer_id);

// Lifecycle inputs with the storage they view.
struct LifecycleData {
  std::vector<std::string> ids;
  std::vector<int64_t> days;  // Purchase days, grouped by customer.
  std::vector<LifecycleInput> inputs;
};

// Man inputs with the ids they view.
struct ManData {
  std::vector<std::string> ids;
  std::vector<ManInput> inputs;
};

// Structure report inputs: one row per customer with its keys.
struct StructureData {
  std::vector<std::string> keys;  // Grouped per customer.
  std::vector<StructureInput> rows;
};

// Numbers of custra.v1.StructureDimension.
enum class StructureDimensionKind : int {
  kKind = 1,
  kIndustry = 2,
  kRegion = 3,
  kChannel = 4,
  kTag = 5,
  kSegment = 6,
};

// Reads analysis inputs and reads / writes runs of one tenant database.
//
// Not thread-safe: use it inside a TenantDatabase::Session. Reads see one
// consistent snapshot each; SaveRun and DeleteRun are one transaction.
// Errors are INTERNAL / UNAVAILABLE from SQLite unless stated otherwise.
class SegmentationStore {
 public:
  explicit SegmentationStore(Connection* db) : db_(db) {}

  // The tenant's first and last transaction days; nullopt without data.
  absl::StatusOr<std::optional<std::pair<int64_t, int64_t>>> DataDays();

  // Customers matching `filter` with at least one purchase (order) in the
  // window, sorted by id. Reads the customers' all-time aggregates when the
  // window covers all data, else the per-day rollups of the window.
  absl::StatusOr<std::vector<CustomerWindowStats>> LoadWindowStats(
      const CustomerFilter& filter, const RunWindow& window);

  // Every customer matching `filter` (prospects included) with its purchase
  // days up to as_of_day, spend in the two periods, and window revenue and
  // profit.
  absl::StatusOr<LifecycleData> LoadLifecycle(const CustomerFilter& filter,
                                              const RunWindow& window,
                                              int period_days);

  // Customers matching `filter` of the given kinds (CustomerKind numbers)
  // with their MAN assessment and window revenue and profit.
  absl::StatusOr<ManData> LoadMan(const CustomerFilter& filter,
                                  std::span<const int> kinds,
                                  const RunWindow& window);

  // One row per customer matching `filter` (active in the window unless
  // `include_inactive`) with its keys under `dimension`. For kSegment,
  // `run_members` gives the segment of each customer in a run (absent: "").
  absl::StatusOr<StructureData> LoadStructure(
      const CustomerFilter& filter, StructureDimensionKind dimension,
      const RunWindow& window, bool include_inactive,
      const std::vector<std::pair<std::string, std::string>>* run_members);

  // The run id stored for `request_id`; nullopt if new. FAILED_PRECONDITION
  // if the id was used with another fingerprint.
  absl::StatusOr<std::optional<std::string>> FindRequest(
      absl::string_view request_id, absl::string_view fingerprint);

  // Stores a run and its members (and the request id, if not empty) in one
  // transaction.
  absl::Status SaveRun(const StoredRun& run,
                       std::span<const SegmentMember> members,
                       absl::string_view request_id,
                       absl::string_view fingerprint, absl::Time now);

  // NOT_FOUND if there is no such run.
  absl::StatusOr<StoredRun> GetRun(absl::string_view id);
  absl::StatusOr<std::vector<SegmentMember>> LoadMembers(absl::string_view id);

  // Runs newest first (create time, then id descending), after the cursor
  // (the last run of the previous page), of one model if set.
  struct RunCursor {
    int64_t create_time_us = 0;
    std::string id;
  };
  absl::StatusOr<std::vector<StoredRun>> ListRuns(
      std::optional<int> model, const std::optional<RunCursor>& after,
      int limit);

  // NOT_FOUND if there is no such run.
  absl::Status DeleteRun(absl::string_view id);

  // For each model, the newest run containing the customer and its member
  // entry, in model order.
  absl::StatusOr<std::vector<std::pair<StoredRun, SegmentMember>>>
  LatestAssignments(absl::string_view customer_id);

 private:
  Connection* db_;
};

}  // namespace custra

#endif  // CUSTRA_COMMON_SEGMENTATION_STORE_H_
