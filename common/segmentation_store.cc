#include "common/segmentation_store.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/request_log.h"
#include "common/sqlite_util.h"
#include "common/status_macros.h"

namespace custra {
namespace {

constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000000;
constexpr char kRunRequestKind[] = "segmentation_run";

// Member blob layout (host byte order; the blob never leaves this machine's
// database files except through backups restored on the same platform):
//   "CSM1" | uint32 count | count x Record | ids
constexpr char kMagic[4] = {'C', 'S', 'M', '1'};
struct Record {
  uint32_t id_offset;
  uint32_t id_size;
  int32_t segment;
  uint32_t reals_present;
  int64_t revenue;
  int64_t profit;
  int64_t ints[SegmentMember::kIntSlots];
  double reals[SegmentMember::kRealSlots];
};
constexpr size_t kHeaderSize = sizeof(kMagic) + sizeof(uint32_t);

// A view of an encoded blob; valid() checks sizes and offsets.
class MemberBlob {
 public:
  explicit MemberBlob(absl::string_view blob) : blob_(blob) {
    if (blob.size() < kHeaderSize ||
        std::memcmp(blob.data(), kMagic, sizeof(kMagic)) != 0) {
      return;
    }
    uint32_t count;
    std::memcpy(&count, blob.data() + sizeof(kMagic), sizeof(count));
    const size_t ids_at = kHeaderSize + size_t{count} * sizeof(Record);
    if (ids_at > blob.size()) return;
    count_ = count;
    ids_ = blob.substr(ids_at);
    valid_ = true;
    for (size_t i = 0; i < count_ && valid_; ++i) {
      const Record r = record(i);
      valid_ = size_t{r.id_offset} + r.id_size <= ids_.size();
    }
  }

  bool valid() const { return valid_; }
  size_t size() const { return count_; }
  Record record(size_t i) const {
    Record r;
    std::memcpy(&r, blob_.data() + kHeaderSize + i * sizeof(Record), sizeof(r));
    return r;
  }
  absl::string_view id(const Record& r) const {
    return ids_.substr(r.id_offset, r.id_size);
  }
  SegmentMember member(size_t i) const {
    const Record r = record(i);
    SegmentMember m;
    m.customer_id = std::string(id(r));
    m.segment = r.segment;
    m.revenue = r.revenue;
    m.profit = r.profit;
    std::copy(std::begin(r.ints), std::end(r.ints), m.ints.begin());
    std::copy(std::begin(r.reals), std::end(r.reals), m.reals.begin());
    m.reals_present = r.reals_present;
    return m;
  }

 private:
  absl::string_view blob_;
  absl::string_view ids_;
  size_t count_ = 0;
  bool valid_ = false;
};

int64_t OptionalDay(SQLite::Column column) {
  return column.isNull() ? 0 : column.getInt64();
}

// The ids of `filter`'s customers, sorted.
std::vector<std::string> MatchingIds(Connection& db,
                                     const CustomerFilter& filter,
                                     absl::string_view extra_condition = "") {
  Connection::Statement select_handle = db.Prepare(absl::StrCat(
      "SELECT c.id FROM customers c WHERE ", CustomerFilterCondition(filter),
      extra_condition, " ORDER BY c.id"));
  SQLite::Statement& select = *select_handle;
  BindCustomerFilter(select, filter);
  std::vector<std::string> ids;
  while (select.executeStep()) ids.push_back(select.getColumn(0).getString());
  return ids;
}

StoredRun ReadRun(SQLite::Statement& s) {
  StoredRun run;
  run.id = s.getColumn(0).getString();
  run.model = s.getColumn(1).getInt();
  run.create_time_us = s.getColumn(2).getInt64();
  run.record = BlobOf(s.getColumn(3));
  return run;
}

constexpr char kRunColumns[] = "id, model, create_time_us, run";

}  // namespace

int64_t DayOfMicros(int64_t time_us) {
  int64_t day = time_us / kMicrosPerDay;
  if (time_us % kMicrosPerDay < 0) --day;
  return day;
}

std::string EncodeMembers(std::span<const SegmentMember> members) {
  std::vector<size_t> order(members.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return members[a].customer_id < members[b].customer_id;
  });
  size_t id_bytes = 0;
  for (const SegmentMember& m : members) id_bytes += m.customer_id.size();
  std::string out;
  out.reserve(kHeaderSize + members.size() * sizeof(Record) + id_bytes);
  out.append(kMagic, sizeof(kMagic));
  const uint32_t count = static_cast<uint32_t>(members.size());
  out.append(reinterpret_cast<const char*>(&count), sizeof(count));
  uint32_t offset = 0;
  for (size_t i : order) {
    const SegmentMember& m = members[i];
    Record r{};
    r.id_offset = offset;
    r.id_size = static_cast<uint32_t>(m.customer_id.size());
    r.segment = m.segment;
    r.reals_present = m.reals_present;
    r.revenue = m.revenue;
    r.profit = m.profit;
    std::copy(m.ints.begin(), m.ints.end(), r.ints);
    std::copy(m.reals.begin(), m.reals.end(), r.reals);
    out.append(reinterpret_cast<const char*>(&r), sizeof(r));
    offset += r.id_size;
  }
  for (size_t i : order) out += members[i].customer_id;
  return out;
}

std::optional<std::vector<SegmentMember>> DecodeMembers(
    absl::string_view blob) {
  MemberBlob view(blob);
  if (!view.valid()) return std::nullopt;
  std::vector<SegmentMember> members;
  members.reserve(view.size());
  for (size_t i = 0; i < view.size(); ++i) members.push_back(view.member(i));
  return members;
}

std::optional<SegmentMember> FindMember(absl::string_view blob,
                                        absl::string_view customer_id) {
  MemberBlob view(blob);
  if (!view.valid()) return std::nullopt;
  size_t lo = 0, hi = view.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (view.id(view.record(mid)) < customer_id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == view.size() || view.id(view.record(lo)) != customer_id) {
    return std::nullopt;
  }
  return view.member(lo);
}

absl::StatusOr<std::optional<std::pair<int64_t, int64_t>>>
SegmentationStore::DataDays() {
  return CatchSqlite(
      "reading the data's date range",
      [&]() -> absl::StatusOr<std::optional<std::pair<int64_t, int64_t>>> {
        // Two statements: SQLite answers a lone min() or max() from the
        // primary key's first column without a scan.
        Connection::Statement first_handle =
            db_->Prepare("SELECT min(day) FROM customer_days");
        SQLite::Statement& first = *first_handle;
        Connection::Statement last_handle =
            db_->Prepare("SELECT max(day) FROM customer_days");
        SQLite::Statement& last = *last_handle;
        if (!first.executeStep() || first.getColumn(0).isNull() ||
            !last.executeStep()) {
          return std::nullopt;
        }
        return std::make_pair(first.getColumn(0).getInt64(),
                              last.getColumn(0).getInt64());
      });
}

absl::StatusOr<std::vector<CustomerWindowStats>>
SegmentationStore::LoadWindowStats(const CustomerFilter& filter,
                                   const RunWindow& window) {
  CUSTRA_ASSIGN_OR_RETURN(auto data_days, DataDays());
  if (!data_days) return std::vector<CustomerWindowStats>{};
  return CatchSqlite(
      "reading customer aggregates",
      [&]() -> absl::StatusOr<std::vector<CustomerWindowStats>> {
        const bool whole_history =
            (!window.start_day || *window.start_day <= data_days->first) &&
            window.as_of_day >= data_days->second;
        std::vector<CustomerWindowStats> out;
        if (whole_history) {
          // O(customers): the aggregates kept current on ingestion.
          Connection::Statement select_handle = db_->Prepare(
              absl::StrCat("SELECT c.id, c.revenue_micros, "
                           "c.profit_micros, c.order_count, "
                           "c.purchase_day_count, c.last_purchase_us "
                           "FROM customers c WHERE c.order_count > 0 "
                           "AND ",
                           CustomerFilterCondition(filter), " ORDER BY c.id"));
          SQLite::Statement& select = *select_handle;
          BindCustomerFilter(select, filter);
          while (select.executeStep()) {
            CustomerWindowStats& s = out.emplace_back();
            s.id = select.getColumn(0).getString();
            s.revenue = select.getColumn(1).getInt64();
            s.profit = select.getColumn(2).getInt64();
            s.orders = select.getColumn(3).getInt64();
            s.purchase_days = select.getColumn(4).getInt64();
            s.last_purchase_day = DayOfMicros(select.getColumn(5).getInt64());
          }
          return out;
        }
        // O(customer days in the window): the per-day rollups.
        std::string condition;
        if (!IsEmpty(filter)) {
          condition = absl::StrCat(
              " AND d.customer_id IN (SELECT c.id FROM customers c WHERE ",
              CustomerFilterCondition(filter), ")");
        }
        Connection::Statement select_handle = db_->Prepare(
            absl::StrCat("SELECT d.customer_id, sum(d.amount_micros), "
                         "sum(d.profit_micros), sum(d.orders), "
                         "sum(d.purchase_lines > 0), "
                         "max(CASE WHEN d.purchase_lines > 0 THEN d.day END) "
                         "FROM customer_days d WHERE d.day BETWEEN ?10 AND ?11",
                         condition,
                         " GROUP BY d.customer_id HAVING sum(d.orders) > 0 "
                         "ORDER BY d.customer_id"));
        SQLite::Statement& select = *select_handle;
        BindCustomerFilter(select, filter);
        select.bind(10, static_cast<int64_t>(
                            window.start_day.value_or(data_days->first)));
        select.bind(11, static_cast<int64_t>(window.as_of_day));
        while (select.executeStep()) {
          CustomerWindowStats& s = out.emplace_back();
          s.id = select.getColumn(0).getString();
          s.revenue = select.getColumn(1).getInt64();
          s.profit = select.getColumn(2).getInt64();
          s.orders = select.getColumn(3).getInt64();
          s.purchase_days = select.getColumn(4).getInt64();
          s.last_purchase_day = OptionalDay(select.getColumn(5));
        }
        return out;
      });
}

absl::StatusOr<LifecycleData> SegmentationStore::LoadLifecycle(
    const CustomerFilter& filter, const RunWindow& window, int period_days) {
  return CatchSqlite(
      "reading purchase history", [&]() -> absl::StatusOr<LifecycleData> {
        LifecycleData data;
        data.ids = MatchingIds(*db_, filter);
        const size_t n = data.ids.size();
        absl::flat_hash_map<absl::string_view, uint32_t> index;
        index.reserve(n);
        for (size_t i = 0; i < n; ++i) {
          index.emplace(data.ids[i], static_cast<uint32_t>(i));
        }
        data.inputs.resize(n);
        std::vector<std::pair<uint32_t, int64_t>> purchase_days;
        const int64_t as_of = window.as_of_day;
        const int64_t latest_from = as_of - period_days;  // exclusive
        const int64_t previous_from = as_of - 2 * int64_t{period_days};
        Connection::Statement select_handle = db_->Prepare(
            "SELECT customer_id, day, amount_micros, profit_micros, "
            "purchase_lines FROM customer_days WHERE day <= ?");
        SQLite::Statement& select = *select_handle;
        select.bind(1, static_cast<int64_t>(as_of));
        while (select.executeStep()) {
          const auto it = index.find(absl::string_view(
              select.getColumn(0).getText(),
              static_cast<size_t>(select.getColumn(0).getBytes())));
          if (it == index.end()) continue;
          LifecycleInput& in = data.inputs[it->second];
          const int64_t day = select.getColumn(1).getInt64();
          const int64_t amount = select.getColumn(2).getInt64();
          if (day > latest_from) {
            in.latest_period_spend += amount;
          } else if (day > previous_from) {
            in.previous_period_spend += amount;
          }
          if (!window.start_day || day >= *window.start_day) {
            in.revenue += amount;
            in.profit += select.getColumn(3).getInt64();
          }
          if (select.getColumn(4).getInt64() > 0) {
            purchase_days.emplace_back(it->second, day);
          }
        }
        std::sort(purchase_days.begin(), purchase_days.end());
        data.days.reserve(purchase_days.size());
        for (const auto& [customer, day] : purchase_days) {
          data.days.push_back(day);
        }
        size_t at = 0;
        for (size_t i = 0; i < n; ++i) {
          const size_t begin = at;
          while (at < purchase_days.size() && purchase_days[at].first == i) {
            ++at;
          }
          data.inputs[i].id = data.ids[i];
          data.inputs[i].purchase_days =
              std::span<const int64_t>(data.days.data() + begin, at - begin);
        }
        return data;
      });
}

absl::StatusOr<ManData> SegmentationStore::LoadMan(const CustomerFilter& filter,
                                                   std::span<const int> kinds,
                                                   const RunWindow& window) {
  CUSTRA_ASSIGN_OR_RETURN(std::vector<CustomerWindowStats> stats,
                          LoadWindowStats(filter, window));
  return CatchSqlite(
      "reading MAN assessments", [&]() -> absl::StatusOr<ManData> {
        std::string kind_list;
        for (int kind : kinds) {
          absl::StrAppend(&kind_list, kind_list.empty() ? "" : ", ", kind);
        }
        Connection::Statement select_handle = db_->Prepare(
            absl::StrCat("SELECT c.id, c.man_money, c.man_authority, "
                         "c.man_need FROM customers c WHERE c.kind IN (",
                         kind_list, ") AND ", CustomerFilterCondition(filter),
                         " ORDER BY c.id"));
        SQLite::Statement& select = *select_handle;
        BindCustomerFilter(select, filter);
        ManData data;
        std::vector<std::array<int, 3>> levels;
        while (select.executeStep()) {
          data.ids.push_back(select.getColumn(0).getString());
          levels.push_back({select.getColumn(1).getInt(),
                            select.getColumn(2).getInt(),
                            select.getColumn(3).getInt()});
        }
        data.inputs.resize(data.ids.size());
        size_t s = 0;
        for (size_t i = 0; i < data.ids.size(); ++i) {
          ManInput& in = data.inputs[i];
          in.id = data.ids[i];
          in.money = levels[i][0];
          in.authority = levels[i][1];
          in.need = levels[i][2];
          while (s < stats.size() && stats[s].id < data.ids[i]) ++s;
          if (s < stats.size() && stats[s].id == data.ids[i]) {
            in.revenue = stats[s].revenue;
            in.profit = stats[s].profit;
          }
        }
        return data;
      });
}

absl::StatusOr<StructureData> SegmentationStore::LoadStructure(
    const CustomerFilter& filter, StructureDimensionKind dimension,
    const RunWindow& window, bool include_inactive,
    const std::vector<std::pair<std::string, std::string>>* run_members) {
  CUSTRA_ASSIGN_OR_RETURN(std::vector<CustomerWindowStats> stats,
                          LoadWindowStats(filter, window));
  return CatchSqlite(
      "reading customer dimensions", [&]() -> absl::StatusOr<StructureData> {
        // (id, key) pairs sorted by id; a customer may have several (tags)
        // or none.
        std::vector<std::pair<std::string, std::string>> keyed;
        std::vector<std::string> ids;
        if (include_inactive) {
          ids = MatchingIds(*db_, filter);
        } else {
          ids.reserve(stats.size());
          for (const CustomerWindowStats& s : stats) ids.push_back(s.id);
        }
        const char* column = nullptr;
        switch (dimension) {
          case StructureDimensionKind::kKind:
            column = "c.kind";
            break;
          case StructureDimensionKind::kIndustry:
            column = "c.industry";
            break;
          case StructureDimensionKind::kRegion:
            column = "c.region";
            break;
          case StructureDimensionKind::kChannel:
            column = "c.acquisition_channel";
            break;
          case StructureDimensionKind::kTag:
          case StructureDimensionKind::kSegment:
            break;
        }
        if (column != nullptr) {
          Connection::Statement select_handle = db_->Prepare(
              absl::StrCat("SELECT c.id, ", column, " FROM customers c WHERE ",
                           CustomerFilterCondition(filter), " ORDER BY c.id"));
          SQLite::Statement& select = *select_handle;
          BindCustomerFilter(select, filter);
          while (select.executeStep()) {
            std::string key = select.getColumn(1).getString();
            if (dimension == StructureDimensionKind::kKind) {
              const int kind = select.getColumn(1).getInt();
              key = kind == 2   ? "ENTERPRISE"
                    : kind == 3 ? "GOVERNMENT"
                                : "INDIVIDUAL";
            }
            keyed.emplace_back(select.getColumn(0).getString(), std::move(key));
          }
        } else if (dimension == StructureDimensionKind::kTag) {
          Connection::Statement select_handle = db_->Prepare(
              absl::StrCat("SELECT t.customer_id, t.tag FROM "
                           "customer_tags t JOIN customers c ON c.id = "
                           "t.customer_id WHERE ",
                           CustomerFilterCondition(filter),
                           " ORDER BY t.customer_id, t.tag"));
          SQLite::Statement& select = *select_handle;
          BindCustomerFilter(select, filter);
          while (select.executeStep()) {
            keyed.emplace_back(select.getColumn(0).getString(),
                               select.getColumn(1).getString());
          }
        } else if (run_members != nullptr) {
          keyed = *run_members;
        }
        // Merge ids, keys and stats (all sorted by id).
        StructureData data;
        std::vector<size_t> begins;
        std::vector<std::pair<int64_t, int64_t>> values;
        size_t k = 0, s = 0;
        for (const std::string& id : ids) {
          while (k < keyed.size() && keyed[k].first < id) ++k;
          begins.push_back(data.keys.size());
          bool any = false;
          while (k < keyed.size() && keyed[k].first == id) {
            data.keys.push_back(std::move(keyed[k].second));
            any = true;
            ++k;
          }
          // Single-key dimensions always have a key; "" when absent.
          if (!any && dimension != StructureDimensionKind::kTag) {
            data.keys.emplace_back();
          }
          while (s < stats.size() && stats[s].id < id) ++s;
          if (s < stats.size() && stats[s].id == id) {
            values.emplace_back(stats[s].revenue, stats[s].profit);
          } else {
            values.emplace_back(0, 0);
          }
        }
        begins.push_back(data.keys.size());
        data.rows.resize(ids.size());
        for (size_t i = 0; i < ids.size(); ++i) {
          data.rows[i].keys = std::span<const std::string>(
              data.keys.data() + begins[i], begins[i + 1] - begins[i]);
          data.rows[i].revenue = values[i].first;
          data.rows[i].profit = values[i].second;
        }
        return data;
      });
}

absl::StatusOr<std::optional<std::string>> SegmentationStore::FindRequest(
    absl::string_view request_id, absl::string_view fingerprint) {
  return CatchSqlite("reading the request log",
                     [&]() -> absl::StatusOr<std::optional<std::string>> {
                       return LoadRequest(*db_, kRunRequestKind, request_id,
                                          fingerprint);
                     });
}

absl::Status SegmentationStore::SaveRun(const StoredRun& run,
                                        std::span<const SegmentMember> members,
                                        absl::string_view request_id,
                                        absl::string_view fingerprint,
                                        absl::Time now) {
  const std::string blob = EncodeMembers(members);
  return CatchSqlite("storing the run", [&]() -> absl::Status {
    SQLite::Transaction txn(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    if (!request_id.empty()) {
      CUSTRA_ASSIGN_OR_RETURN(
          std::optional<std::string> existing,
          LoadRequest(*db_, kRunRequestKind, request_id, fingerprint));
      if (existing) {
        return WithReason(
            absl::AlreadyExistsError(absl::StrCat(
                "request_id ", request_id, " already created run ", *existing)),
            reason::kAlreadyExists);
      }
    }
    Connection::Statement insert_handle = db_->Prepare(
        "INSERT INTO segmentation_runs(id, model, create_time_us, run, "
        "members) VALUES (?, ?, ?, ?, ?)");
    SQLite::Statement& insert = *insert_handle;
    insert.bind(1, run.id);
    insert.bind(2, run.model);
    insert.bind(3, static_cast<int64_t>(run.create_time_us));
    insert.bind(4, run.record.data(), static_cast<int>(run.record.size()));
    insert.bind(5, blob.data(), static_cast<int>(blob.size()));
    insert.exec();
    if (!request_id.empty()) {
      SaveRequest(*db_, kRunRequestKind, request_id, fingerprint, run.id, now);
    }
    txn.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<StoredRun> SegmentationStore::GetRun(absl::string_view id) {
  return CatchSqlite("reading the run", [&]() -> absl::StatusOr<StoredRun> {
    Connection::Statement select_handle = db_->Prepare(absl::StrCat(
        "SELECT ", kRunColumns, " FROM segmentation_runs WHERE id = ?"));
    SQLite::Statement& select = *select_handle;
    select.bind(1, std::string(id));
    if (!select.executeStep()) {
      return NotFoundFor("run", id);
    }
    return ReadRun(select);
  });
}

absl::StatusOr<std::vector<SegmentMember>> SegmentationStore::LoadMembers(
    absl::string_view id) {
  return CatchSqlite(
      "reading the run's members",
      [&]() -> absl::StatusOr<std::vector<SegmentMember>> {
        Connection::Statement select_handle =
            db_->Prepare("SELECT members FROM segmentation_runs WHERE id = ?");
        SQLite::Statement& select = *select_handle;
        select.bind(1, std::string(id));
        if (!select.executeStep()) {
          return NotFoundFor("run", id);
        }
        const SQLite::Column blob = select.getColumn(0);
        auto members = DecodeMembers(
            absl::string_view(static_cast<const char*>(blob.getBlob()),
                              static_cast<size_t>(blob.getBytes())));
        if (!members) {
          return absl::InternalError(
              absl::StrCat("the members of run ", id, " are unreadable"));
        }
        return *std::move(members);
      });
}

absl::StatusOr<std::vector<StoredRun>> SegmentationStore::ListRuns(
    std::optional<int> model, const std::optional<RunCursor>& after,
    int limit) {
  return CatchSqlite(
      "listing runs", [&]() -> absl::StatusOr<std::vector<StoredRun>> {
        std::string where = "1";
        if (model) absl::StrAppend(&where, " AND model = ?1");
        if (after) {
          absl::StrAppend(&where,
                          " AND (create_time_us < ?2 OR (create_time_us = ?2 "
                          "AND id < ?3))");
        }
        Connection::Statement select_handle = db_->Prepare(absl::StrCat(
            "SELECT ", kRunColumns, " FROM segmentation_runs WHERE ", where,
            " ORDER BY create_time_us DESC, id DESC "
            "LIMIT ?4"));
        SQLite::Statement& select = *select_handle;
        if (model) select.bind(1, *model);
        if (after) {
          select.bind(2, static_cast<int64_t>(after->create_time_us));
          select.bind(3, after->id);
        }
        select.bind(4, limit);
        std::vector<StoredRun> runs;
        while (select.executeStep()) runs.push_back(ReadRun(select));
        return runs;
      });
}

absl::Status SegmentationStore::DeleteRun(absl::string_view id) {
  return CatchSqlite("deleting the run", [&]() -> absl::Status {
    Connection::Statement erase_handle =
        db_->Prepare("DELETE FROM segmentation_runs WHERE id = ?");
    SQLite::Statement& erase = *erase_handle;
    erase.bind(1, std::string(id));
    if (erase.exec() == 0) {
      return NotFoundFor("run", id);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<std::pair<StoredRun, SegmentMember>>>
SegmentationStore::LatestAssignments(absl::string_view customer_id) {
  return CatchSqlite(
      "reading the customer's segments",
      [&]()
          -> absl::StatusOr<std::vector<std::pair<StoredRun, SegmentMember>>> {
        std::vector<std::pair<StoredRun, SegmentMember>> out;
        Connection::Statement select_handle = db_->Prepare(
            absl::StrCat("SELECT ", kRunColumns,
                         ", members FROM segmentation_runs ORDER BY "
                         "model, create_time_us DESC, id DESC"));
        SQLite::Statement& select = *select_handle;
        int found_model = 0;
        while (select.executeStep()) {
          const int model = select.getColumn(1).getInt();
          if (model == found_model) continue;
          const SQLite::Column blob = select.getColumn(4);
          std::optional<SegmentMember> member = FindMember(
              absl::string_view(static_cast<const char*>(blob.getBlob()),
                                static_cast<size_t>(blob.getBytes())),
              customer_id);
          if (!member) continue;
          found_model = model;
          out.emplace_back(ReadRun(select), *std::move(member));
        }
        return out;
      });
}

}  // namespace custra
