#include "server/opportunity_service.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/ingestion_store.h"
#include "common/opportunity_store.h"
#include "common/pipeline_analytics.h"
#include "common/status_macros.h"
#include "server/list_filter.h"
#include "server/paging.h"
#include "server/proto_convert.h"
#include "server/segmentation_convert.h"

namespace custra::server {
namespace {

constexpr size_t kMaxUser = 256;

// --- Validation helpers ------------------------------------------------------

bool ValidRecordId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

absl::Status CheckLength(absl::string_view value, size_t min, size_t max,
                         absl::string_view field) {
  if (value.size() < min || value.size() > max) {
    return InvalidFieldError(
        field, min > 0
                   ? absl::StrCat("must have ", min, " to ", max, " characters")
                   : absl::StrCat("must be at most ", max, " characters"));
  }
  return absl::OkStatus();
}

absl::Status CheckRange(int value, int min, int max, absl::string_view field) {
  if (value < min || value > max) {
    return InvalidFieldError(
        field, absl::StrCat("is ", value, "; must be ", min, " to ", max));
  }
  return absl::OkStatus();
}

absl::Status CheckProbability(const google::protobuf::DoubleValue& p,
                              absl::string_view field) {
  if (!(p.value() >= 0 && p.value() <= 1)) {
    return InvalidFieldError(field, "must be between 0.0 and 1.0");
  }
  return absl::OkStatus();
}

absl::Status CheckRequestId(absl::string_view id) {
  return CheckLength(id, 0, 64, "request_id");
}

// --- Pipeline ---------------------------------------------------------------

PipelineDef PipelineFromProto(const v1::Pipeline& p) {
  PipelineDef def;
  for (const v1::PipelineStage& s : p.stages()) {
    def.stages.push_back({s.id(), s.display_name(), s.default_probability(),
                          static_cast<StageKind>(s.kind()),
                          s.stale_after_days()});
  }
  def.default_stale_after_days =
      p.default_stale_after_days() == 0 ? 30 : p.default_stale_after_days();
  return def;
}

v1::Pipeline PipelineToProto(const PipelineDef& def) {
  v1::Pipeline p;
  for (const PipelineStageDef& s : def.stages) {
    v1::PipelineStage* out = p.add_stages();
    out->set_id(s.id);
    out->set_display_name(s.display_name);
    out->set_default_probability(s.default_probability);
    out->set_kind(static_cast<v1::PipelineStageKind>(s.kind));
    out->set_stale_after_days(s.stale_after_days);
  }
  p.set_default_stale_after_days(def.default_stale_after_days);
  return p;
}

// The tenant's pipeline (the default until changed) with its removed
// stages; `stored` holds the record for update_time.
absl::StatusOr<PipelineDef> LoadPipeline(OpportunityStore& store,
                                         v1::Pipeline* stored = nullptr) {
  CUSTRA_ASSIGN_OR_RETURN(std::optional<std::string> record,
                          store.GetPipeline());
  PipelineDef def = DefaultPipeline();
  v1::Pipeline proto;
  if (record && proto.ParseFromString(*record)) def = PipelineFromProto(proto);
  if (stored != nullptr) *stored = record ? proto : PipelineToProto(def);
  CUSTRA_ASSIGN_OR_RETURN(std::string removed, store.GetRemovedStages());
  for (absl::string_view pair :
       absl::StrSplit(removed, ';', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    def.removed_stage_targets[kv.first] = kv.second;
  }
  return def;
}

const PipelineStageDef* FindStage(const PipelineDef& p, absl::string_view id) {
  for (const PipelineStageDef& s : p.stages) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

v1::OpportunityStatus StatusOfKind(StageKind kind) {
  switch (kind) {
    case StageKind::kWon:
      return v1::OPPORTUNITY_STATUS_WON;
    case StageKind::kLost:
      return v1::OPPORTUNITY_STATUS_LOST;
    default:
      return v1::OPPORTUNITY_STATUS_OPEN;
  }
}

// Sets status and probability from the stage and override.
void Derive(const PipelineDef& pipeline, v1::Opportunity& o) {
  const PipelineStageDef* stage = FindStage(pipeline, o.stage_id());
  const StageKind kind = stage ? stage->kind : StageKind::kOpen;
  o.set_status(StatusOfKind(kind));
  if (kind == StageKind::kWon) {
    o.set_probability(1);
  } else if (kind == StageKind::kLost) {
    o.set_probability(0);
  } else if (o.has_probability_override()) {
    o.set_probability(o.probability_override().value());
  } else {
    o.set_probability(stage ? stage->default_probability : 0);
  }
}

// --- Records ----------------------------------------------------------------

absl::StatusOr<v1::Opportunity> ParseOpportunity(const OpportunityRecord& r) {
  v1::Opportunity o;
  if (!o.ParseFromString(r.record)) {
    return absl::InternalError(
        absl::StrCat("opportunity ", r.id, " is unreadable"));
  }
  return o;
}

absl::StatusOr<v1::Opportunity> LoadOpportunity(OpportunityStore& store,
                                                absl::string_view id) {
  if (id.empty()) return InvalidFieldError("opportunity_id", "is required");
  CUSTRA_ASSIGN_OR_RETURN(OpportunityRecord r, store.GetOpportunity(id));
  return ParseOpportunity(r);
}

absl::StatusOr<v1::AccountContact> LoadContact(OpportunityStore& store,
                                               absl::string_view id) {
  if (id.empty()) return InvalidFieldError("contact_id", "is required");
  CUSTRA_ASSIGN_OR_RETURN(OpportunityRecord r, store.GetContact(id));
  v1::AccountContact c;
  if (!c.ParseFromString(r.record)) {
    return absl::InternalError(absl::StrCat("contact ", id, " is unreadable"));
  }
  return c;
}

v1::OpportunityStageChange ParseChange(const LogRecord& r) {
  v1::OpportunityStageChange c;
  c.ParseFromString(r.record);
  c.set_id(absl::StrCat("sc-", r.seq));
  return c;
}

v1::SalesActivity ParseActivity(const LogRecord& r) {
  v1::SalesActivity a;
  a.ParseFromString(r.record);
  a.set_id(absl::StrCat("act-", r.seq));
  return a;
}

absl::Status RequireAccount(OpportunityStore& store, absl::string_view id,
                            absl::string_view field) {
  if (id.empty()) return InvalidFieldError(field, "is required");
  CUSTRA_ASSIGN_OR_RETURN(bool exists, store.CustomerExists(id));
  if (!exists) {
    return WithReason(absl::NotFoundError(absl::StrCat("account (customer) ",
                                                       id, " does not exist")),
                      reason::kNotFound);
  }
  return absl::OkStatus();
}

absl::Status CheckOpportunityFields(const v1::Opportunity& o) {
  CUSTRA_RETURN_IF_ERROR(CheckLength(o.title(), 1, 256, "opportunity.title"));
  if (o.amount().amount_micros() < 0) {
    return InvalidFieldError("opportunity.amount",
                             "must not be negative (0 while unknown)");
  }
  const std::string& currency = o.amount().currency_code();
  if (!currency.empty() &&
      (currency.size() != 3 ||
       !std::all_of(currency.begin(), currency.end(), absl::ascii_isupper))) {
    return InvalidFieldError("opportunity.amount.currency_code",
                             "must be an ISO 4217 code like CNY or USD");
  }
  if (!o.has_expected_close_date()) {
    return InvalidFieldError("opportunity.expected_close_date", "is required");
  }
  CUSTRA_RETURN_IF_ERROR(
      DayOf(o.expected_close_date(), "opportunity.expected_close_date")
          .status());
  CUSTRA_RETURN_IF_ERROR(
      CheckLength(o.owner(), 1, kMaxUser, "opportunity.owner"));
  if (o.has_probability_override()) {
    CUSTRA_RETURN_IF_ERROR(CheckProbability(
        o.probability_override(), "opportunity.probability_override"));
  }
  if (o.competitors_size() > 20) {
    return InvalidFieldError("opportunity.competitors",
                             "must hold at most 20 names");
  }
  for (int i = 0; i < o.competitors_size(); ++i) {
    CUSTRA_RETURN_IF_ERROR(
        CheckLength(o.competitors(i), 1, 200,
                    absl::StrCat("opportunity.competitors[", i, "]")));
  }
  CUSTRA_RETURN_IF_ERROR(
      CheckLength(o.next_step(), 0, 1000, "opportunity.next_step"));
  CUSTRA_RETURN_IF_ERROR(
      CheckLength(o.close_reason(), 0, 1000, "opportunity.close_reason"));
  CUSTRA_RETURN_IF_ERROR(CheckLength(o.notes(), 0, 10000, "opportunity.notes"));
  return absl::OkStatus();
}

absl::Status CheckContactFields(const v1::AccountContact& c) {
  CUSTRA_RETURN_IF_ERROR(CheckLength(c.name(), 1, 200, "contact.name"));
  CUSTRA_RETURN_IF_ERROR(CheckLength(c.title(), 0, 200, "contact.title"));
  CUSTRA_RETURN_IF_ERROR(CheckRange(c.influence(), 0, 5, "contact.influence"));
  CUSTRA_RETURN_IF_ERROR(CheckRange(c.relationship_strength(), 0, 5,
                                    "contact.relationship_strength"));
  CUSTRA_RETURN_IF_ERROR(CheckLength(c.notes(), 0, 10000, "contact.notes"));
  if (!v1::ContactBuyingRole_IsValid(c.buying_role())) {
    return InvalidFieldError("contact.buying_role", "is not a buying role");
  }
  if (!v1::ContactAttitude_IsValid(c.attitude())) {
    return InvalidFieldError("contact.attitude", "is not an attitude");
  }
  if (!v1::DiscStyle_IsValid(c.disc_style())) {
    return InvalidFieldError("contact.disc_style", "is not a DISC style");
  }
  return absl::OkStatus();
}

// Copies the fields named in `paths` from `in` to `out` (top-level fields
// of the same message type).
template <typename Message>
absl::Status ApplyMask(const Message& in,
                       const google::protobuf::FieldMask& mask,
                       const std::set<std::string>& allowed, Message& out) {
  if (mask.paths().empty()) {
    return InvalidFieldError("update_mask", "is required");
  }
  const auto* descriptor = Message::descriptor();
  const auto* reflection = Message::GetReflection();
  for (const std::string& path : mask.paths()) {
    if (!allowed.count(path)) {
      return InvalidFieldError("update_mask",
                               absl::StrCat("'", path, "' cannot be updated"));
    }
    const auto* field = descriptor->FindFieldByName(path);
    reflection->ClearField(&out, field);
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(in, field); ++i) {
        reflection->AddString(&out, field,
                              reflection->GetRepeatedString(in, field, i));
      }
    } else if (field->cpp_type() ==
               google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (reflection->HasField(in, field)) {
        reflection->MutableMessage(&out, field)
            ->CopyFrom(reflection->GetMessage(in, field));
      }
    } else {
      switch (field->cpp_type()) {
        case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
          reflection->SetString(&out, field, reflection->GetString(in, field));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
          reflection->SetInt32(&out, field, reflection->GetInt32(in, field));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_ENUM:
          reflection->SetEnumValue(&out, field,
                                   reflection->GetEnumValue(in, field));
          break;
        default:
          break;
      }
    }
  }
  return absl::OkStatus();
}

// --- Filters -----------------------------------------------------------------

const std::map<std::string, FieldType>& OpportunityFields() {
  static const auto* fields = new std::map<std::string, FieldType>{
      {"stage_id", FieldType::kString},
      {"owner", FieldType::kString},
      {"customer_id", FieldType::kString},
      {"status", FieldType::kEnum},
      {"expected_close_date", FieldType::kDate}};
  return *fields;
}

absl::StatusOr<std::vector<FilterTerm>> OpportunityFilter(
    absl::string_view filter) {
  CUSTRA_ASSIGN_OR_RETURN(std::vector<FilterTerm> terms,
                          ParseListFilter(filter, OpportunityFields()));
  for (const FilterTerm& t : terms) {
    if (t.field == "status" && t.text != "OPEN" && t.text != "WON" &&
        t.text != "LOST") {
      return InvalidFieldError("filter", "status must be OPEN, WON or LOST");
    }
  }
  return terms;
}

bool Matches(const v1::Opportunity& o, const std::vector<FilterTerm>& terms) {
  for (const FilterTerm& t : terms) {
    bool ok = true;
    if (t.field == "stage_id") ok = Compare(t.op, o.stage_id(), t.text);
    if (t.field == "owner") ok = Compare(t.op, o.owner(), t.text);
    if (t.field == "customer_id") ok = Compare(t.op, o.customer_id(), t.text);
    if (t.field == "status") {
      ok = Compare(t.op,
                   absl::StripPrefix(v1::OpportunityStatus_Name(o.status()),
                                     "OPPORTUNITY_STATUS_"),
                   t.text);
    }
    if (t.field == "expected_close_date") {
      ok = Compare(t.op, DayOf(o.expected_close_date(), "").value_or(0),
                   t.number);
    }
    if (!ok) return false;
  }
  return true;
}

// Every opportunity (filtered) with its history, as the analytics read it.
struct Deals {
  std::vector<v1::Opportunity> protos;
  std::vector<OpportunityFacts> facts;  // Empty when not asked for.
};

// What LoadDeals reads: the opportunities only (a listing), or also their
// facts and stage histories (the analytics).
enum class DealParts { kProtos, kProtosAndFacts };

absl::StatusOr<Deals> LoadDeals(OpportunityStore& store,
                                absl::string_view filter,
                                DealParts parts = DealParts::kProtosAndFacts) {
  const bool with_facts = parts == DealParts::kProtosAndFacts;
  CUSTRA_ASSIGN_OR_RETURN(std::vector<FilterTerm> terms,
                          OpportunityFilter(filter));
  CUSTRA_ASSIGN_OR_RETURN(std::vector<OpportunityRecord> records,
                          store.AllOpportunities());
  std::vector<LogRecord> changes;
  if (with_facts) {
    CUSTRA_ASSIGN_OR_RETURN(changes, store.AllStageChanges());
  }
  std::map<std::string, std::vector<StageChangeFact>> history;
  for (const LogRecord& r : changes) {
    const v1::OpportunityStageChange c = ParseChange(r);
    history[r.owner_id].push_back(
        {FromTimestamp(c.change_time()), c.from_stage_id(), c.to_stage_id()});
  }
  Deals deals;
  deals.protos.reserve(records.size());
  if (with_facts) deals.facts.reserve(records.size());
  for (const OpportunityRecord& r : records) {
    CUSTRA_ASSIGN_OR_RETURN(v1::Opportunity o, ParseOpportunity(r));
    if (!Matches(o, terms)) continue;
    if (!with_facts) {
      deals.protos.push_back(std::move(o));
      continue;
    }
    OpportunityFacts f;
    f.id = o.id();
    f.customer_id = o.customer_id();
    f.owner = o.owner();
    f.stage_id = o.stage_id();
    f.amount_micros = o.amount().amount_micros();
    f.currency_code = o.amount().currency_code();
    if (o.has_probability_override()) {
      f.probability_override = o.probability_override().value();
    }
    f.expected_close_day = DayOf(o.expected_close_date(), "").value_or(0);
    f.open_time = FromTimestamp(o.open_time());
    if (o.has_close_time()) f.close_time = FromTimestamp(o.close_time());
    if (o.has_last_activity_time()) {
      f.last_activity_time = FromTimestamp(o.last_activity_time());
    }
    f.history = std::move(history[o.id()]);
    for (const v1::OpportunityContactLink& l : o.contacts()) {
      f.contacts.push_back({l.contact_id(), static_cast<BuyingRole>(l.role())});
    }
    deals.facts.push_back(std::move(f));
    deals.protos.push_back(std::move(o));
  }
  // Creation time (oldest first), then id: the order ListOpportunities
  // promises.
  std::vector<size_t> order(deals.protos.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& x = deals.protos[a].create_time();
    const auto& y = deals.protos[b].create_time();
    return std::make_pair(x.seconds(), x.nanos()) <
           std::make_pair(y.seconds(), y.nanos());
  });
  Deals sorted;
  sorted.protos.reserve(order.size());
  if (with_facts) sorted.facts.reserve(order.size());
  for (size_t i : order) {
    sorted.protos.push_back(std::move(deals.protos[i]));
    if (with_facts) sorted.facts.push_back(std::move(deals.facts[i]));
  }
  return sorted;
}

absl::StatusOr<std::string> TenantCurrency(Connection& db) {
  return IngestionStore(&db).TenantCurrency();
}

void SetMoney(int64_t micros, const std::string& currency, v1::Money* out) {
  out->set_currency_code(currency);
  out->set_amount_micros(micros);
}

absl::Time TimeOr(const v1::GetDecisionMakerCoverageRequest& r) {
  return r.has_as_of_time() ? FromTimestamp(r.as_of_time()) : absl::Now();
}

// The calibrated stages the reports weigh with, when asked.
absl::StatusOr<std::vector<CalibratedStage>> CalibratedFor(
    v1::ForecastProbabilitySource source, const PipelineDef& pipeline,
    OpportunityStore& store) {
  if (source != v1::FORECAST_PROBABILITY_SOURCE_CALIBRATED) {
    return std::vector<CalibratedStage>{};
  }
  CUSTRA_ASSIGN_OR_RETURN(Deals all, LoadDeals(store, ""));
  CalibrationOptions options;
  options.end_day = UtcDay(absl::Now());
  CUSTRA_ASSIGN_OR_RETURN(
      CalibrationResult result,
      CalibrateStageProbabilities(pipeline, all.facts, options));
  return result.stages;
}

// Pages `items` from `offset`: adds items[offset, offset + size) and sets
// the next token. `add` may move an item out.
template <typename Item, typename Add>
void PageOut(std::vector<Item>& items, int64_t offset, int size,
             const std::string& kind, const std::string& digest, Add add,
             std::string* next_token) {
  const int64_t end =
      std::min<int64_t>(offset + size, static_cast<int64_t>(items.size()));
  for (int64_t i = offset; i < end; ++i) add(items[i]);
  if (end < static_cast<int64_t>(items.size())) {
    *next_token = EncodePageToken(kind, digest, absl::StrCat(end));
  }
}

}  // namespace

// --- Pipeline RPCs
// -------------------------------------------------------------

grpc::Status OpportunityServiceImpl::GetPipeline(
    grpc::ServerContext* context, const v1::GetPipelineRequest* /*request*/,
    v1::GetPipelineResponse* response) {
  return gate_->ServeTenantCall(*context, [&](TenantCall& call) {
    TenantDatabase::Session session(call.database.get(),
                                    TenantDatabase::Purpose::kAsIs);
    OpportunityStore store(&session.db());
    return LoadPipeline(store, response->mutable_pipeline()).status();
  });
}

grpc::Status OpportunityServiceImpl::UpdatePipeline(
    grpc::ServerContext* context, const v1::UpdatePipelineRequest* request,
    v1::UpdatePipelineResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        bool stages = request->update_mask().paths().empty();
        bool stale = stages;
        for (const std::string& path : request->update_mask().paths()) {
          if (path == "stages") {
            stages = true;
          } else if (path == "default_stale_after_days") {
            stale = true;
          } else {
            return InvalidFieldError(
                "update_mask",
                absl::StrCat("'", path,
                             "' is not stages or default_stale_after_days"));
          }
        }
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(PipelineDef old, LoadPipeline(store));
        PipelineDef next = old;
        const PipelineDef requested = PipelineFromProto(request->pipeline());
        if (stages) next.stages = requested.stages;
        if (stale) {
          next.default_stale_after_days =
              request->pipeline().default_stale_after_days();
        }
        CUSTRA_RETURN_IF_ERROR(ValidatePipeline(next));
        if (next.default_stale_after_days == 0) {
          next.default_stale_after_days = 30;
        }
        // Removed stages that hold opportunities need a target of the same
        // kind (open to open).
        CUSTRA_ASSIGN_OR_RETURN(std::vector<OpportunityRecord> records,
                                store.AllOpportunities());
        std::vector<v1::Opportunity> moved, rederived;
        for (const OpportunityRecord& r : records) {
          CUSTRA_ASSIGN_OR_RETURN(v1::Opportunity o, ParseOpportunity(r));
          if (FindStage(next, o.stage_id()) != nullptr) {
            // Deals without an override take their stage's new default.
            const double before = o.probability();
            Derive(next, o);
            if (o.probability() != before) rederived.push_back(std::move(o));
            continue;
          }
          const auto target = request->stage_remap().find(o.stage_id());
          const std::string field =
              absl::StrCat("stage_remap[", o.stage_id(), "]");
          if (target == request->stage_remap().end()) {
            return WithReason(absl::FailedPreconditionError(absl::StrCat(
                                  "stage_remap: stage ", o.stage_id(),
                                  " is removed but holds opportunity ", o.id(),
                                  "; map it to a stage of the new pipeline")),
                              reason::kFailedPrecondition);
          }
          const PipelineStageDef* to = FindStage(next, target->second);
          const PipelineStageDef* from = FindStage(old, o.stage_id());
          if (to == nullptr) {
            return InvalidFieldError(field,
                                     "names no stage of the new "
                                     "pipeline");
          }
          const bool from_open =
              from == nullptr || from->kind == StageKind::kOpen;
          if ((to->kind == StageKind::kOpen) != from_open ||
              (!from_open && from->kind != to->kind)) {
            return InvalidFieldError(
                field, "must be a stage of the same kind (open, won or lost)");
          }
          o.set_stage_id(to->id);
          Derive(next, o);
          moved.push_back(std::move(o));
        }
        for (const PipelineStageDef& s : old.stages) {
          if (FindStage(next, s.id) != nullptr) continue;
          const auto target = request->stage_remap().find(s.id);
          next.removed_stage_targets[s.id] =
              target == request->stage_remap().end() ? "" : target->second;
        }
        v1::Pipeline stored = PipelineToProto(next);
        ToTimestamp(absl::Now(), stored.mutable_update_time());
        std::string removed;
        for (const auto& [from, to] : next.removed_stage_targets) {
          absl::StrAppend(&removed, removed.empty() ? "" : ";", from, "=", to);
        }
        CUSTRA_RETURN_IF_ERROR(store.InTransaction([&]() -> absl::Status {
          CUSTRA_RETURN_IF_ERROR(store.PutPipeline(stored.SerializeAsString()));
          CUSTRA_RETURN_IF_ERROR(store.PutRemovedStages(removed));
          for (const auto* list : {&moved, &rederived}) {
            for (const v1::Opportunity& o : *list) {
              CUSTRA_RETURN_IF_ERROR(
                  store.UpdateOpportunity(o.id(), o.SerializeAsString()));
            }
          }
          return absl::OkStatus();
        }));
        *response->mutable_pipeline() = stored;
        response->set_remapped_opportunity_count(
            static_cast<int32_t>(moved.size()));
        return absl::OkStatus();
      });
}

// --- Opportunity RPCs
// ----------------------------------------------------------

grpc::Status OpportunityServiceImpl::CreateOpportunity(
    grpc::ServerContext* context, const v1::CreateOpportunityRequest* request,
    v1::CreateOpportunityResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_RETURN_IF_ERROR(CheckRequestId(request->request_id()));
        v1::Opportunity o = request->opportunity();
        if (!o.id().empty() && !ValidRecordId(o.id())) {
          return InvalidFieldError("opportunity.id",
                                   "must match ^[A-Za-z0-9._-]{1,64}$");
        }
        CUSTRA_RETURN_IF_ERROR(CheckOpportunityFields(o));
        const absl::Time now = absl::Now();
        if (o.has_open_time() && FromTimestamp(o.open_time()) > now) {
          return InvalidFieldError("opportunity.open_time",
                                   "must not be in the future");
        }
        const std::string fingerprint = Digest({request->SerializeAsString()});
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        if (!request->request_id().empty()) {
          CUSTRA_ASSIGN_OR_RETURN(
              std::optional<std::string> existing,
              store.FindRequest("opportunity", request->request_id(),
                                fingerprint));
          if (existing) {
            CUSTRA_ASSIGN_OR_RETURN(*response->mutable_opportunity(),
                                    LoadOpportunity(store, *existing));
            return absl::OkStatus();
          }
        }
        CUSTRA_RETURN_IF_ERROR(
            RequireAccount(store, o.customer_id(), "opportunity.customer_id"));
        CUSTRA_ASSIGN_OR_RETURN(PipelineDef pipeline, LoadPipeline(store));
        if (o.stage_id().empty()) o.set_stage_id(pipeline.stages[0].id);
        const PipelineStageDef* stage = FindStage(pipeline, o.stage_id());
        if (stage == nullptr) {
          return InvalidFieldError(
              "opportunity.stage_id",
              absl::StrCat("'", o.stage_id(), "' is not a pipeline stage"));
        }
        if (!o.has_open_time()) ToTimestamp(now, o.mutable_open_time());
        *o.mutable_stage_enter_time() = o.open_time();
        o.clear_close_time();
        if (stage->kind != StageKind::kOpen) {
          *o.mutable_close_time() = o.open_time();
        }
        o.clear_contacts();
        o.clear_last_activity_time();
        ToTimestamp(now, o.mutable_create_time());
        ToTimestamp(now, o.mutable_update_time());
        Derive(pipeline, o);
        v1::OpportunityStageChange first;
        first.set_opportunity_id(o.id());
        first.set_to_stage_id(o.stage_id());
        first.set_actor(o.owner());
        *first.mutable_change_time() = o.open_time();
        first.set_probability(o.probability());
        CUSTRA_RETURN_IF_ERROR(store.InTransaction([&]() -> absl::Status {
          if (o.id().empty()) {
            CUSTRA_ASSIGN_OR_RETURN(std::string id,
                                    store.NextId("opportunities", "opp"));
            o.set_id(id);
            first.set_opportunity_id(id);
          }
          CUSTRA_RETURN_IF_ERROR(store.InsertOpportunity(
              {o.id(), o.customer_id(), o.SerializeAsString()}));
          CUSTRA_RETURN_IF_ERROR(
              store
                  .AppendStageChange(
                      o.id(), absl::ToUnixMicros(FromTimestamp(o.open_time())),
                      first.SerializeAsString())
                  .status());
          if (!request->request_id().empty()) {
            CUSTRA_RETURN_IF_ERROR(
                store.RememberRequest("opportunity", request->request_id(),
                                      fingerprint, o.id(), now));
          }
          return absl::OkStatus();
        }));
        *response->mutable_opportunity() = std::move(o);
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::GetOpportunity(
    grpc::ServerContext* context, const v1::GetOpportunityRequest* request,
    v1::GetOpportunityResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(
            *response->mutable_opportunity(),
            LoadOpportunity(store, request->opportunity_id()));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* OpportunityServiceImpl::ListOpportunities(
    grpc::CallbackServerContext* context,
    const v1::ListOpportunitiesRequest* request,
    v1::ListOpportunitiesResponse* response) {
  return gate_->ServeTenantRead(
      context, [this, request, response](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 50, 1000, true));
        const std::string digest = Digest({request->filter()});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t offset,
            DecodePageNumber("opportunities", digest, request->page_token()));
        TenantDatabase::ReadSession session(call.database.get(),
                                            TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(Deals deals, LoadDeals(store, request->filter(),
                                                       DealParts::kProtos));
        PageOut(
            deals.protos, offset, page_size, "opportunities", digest,
            [&](v1::Opportunity& o) {
              *response->add_opportunities() = std::move(o);
            },
            response->mutable_next_page_token());
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::UpdateOpportunity(
    grpc::ServerContext* context, const v1::UpdateOpportunityRequest* request,
    v1::UpdateOpportunityResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        static const std::set<std::string> kAllowed = {"title",
                                                       "amount",
                                                       "expected_close_date",
                                                       "owner",
                                                       "probability_override",
                                                       "competitors",
                                                       "next_step",
                                                       "close_reason",
                                                       "man_assessment",
                                                       "notes"};
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(
            v1::Opportunity o,
            LoadOpportunity(store, request->opportunity().id()));
        CUSTRA_RETURN_IF_ERROR(ApplyMask(request->opportunity(),
                                         request->update_mask(), kAllowed, o));
        CUSTRA_RETURN_IF_ERROR(CheckOpportunityFields(o));
        CUSTRA_ASSIGN_OR_RETURN(PipelineDef pipeline, LoadPipeline(store));
        Derive(pipeline, o);
        ToTimestamp(absl::Now(), o.mutable_update_time());
        CUSTRA_RETURN_IF_ERROR(
            store.UpdateOpportunity(o.id(), o.SerializeAsString()));
        *response->mutable_opportunity() = std::move(o);
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::DeleteOpportunity(
    grpc::ServerContext* context, const v1::DeleteOpportunityRequest* request,
    v1::DeleteOpportunityResponse* /*response*/) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->opportunity_id().empty()) {
          return InvalidFieldError("opportunity_id", "is required");
        }
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        return store.InTransaction(
            [&] { return store.DeleteOpportunity(request->opportunity_id()); });
      });
}

grpc::Status OpportunityServiceImpl::ChangeOpportunityStage(
    grpc::ServerContext* context,
    const v1::ChangeOpportunityStageRequest* request,
    v1::ChangeOpportunityStageResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_RETURN_IF_ERROR(CheckRequestId(request->request_id()));
        CUSTRA_RETURN_IF_ERROR(
            CheckLength(request->actor(), 1, kMaxUser, "actor"));
        CUSTRA_RETURN_IF_ERROR(CheckLength(request->note(), 0, 1000, "note"));
        CUSTRA_RETURN_IF_ERROR(
            CheckLength(request->close_reason(), 0, 1000, "close_reason"));
        if (request->has_probability_override()) {
          CUSTRA_RETURN_IF_ERROR(CheckProbability(
              request->probability_override(), "probability_override"));
        }
        const std::string fingerprint = Digest({request->SerializeAsString()});
        const absl::Time now = absl::Now();
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        if (!request->request_id().empty()) {
          CUSTRA_ASSIGN_OR_RETURN(
              std::optional<std::string> existing,
              store.FindRequest("stage_change", request->request_id(),
                                fingerprint));
          if (existing) {
            CUSTRA_ASSIGN_OR_RETURN(
                *response->mutable_opportunity(),
                LoadOpportunity(store, request->opportunity_id()));
            CUSTRA_ASSIGN_OR_RETURN(
                std::vector<LogRecord> changes,
                store.StageChanges(request->opportunity_id(), 0, INT32_MAX));
            for (const LogRecord& r : changes) {
              if (absl::StrCat(r.seq) == *existing) {
                *response->mutable_stage_change() = ParseChange(r);
              }
            }
            return absl::OkStatus();
          }
        }
        CUSTRA_ASSIGN_OR_RETURN(
            v1::Opportunity o,
            LoadOpportunity(store, request->opportunity_id()));
        CUSTRA_ASSIGN_OR_RETURN(PipelineDef pipeline, LoadPipeline(store));
        CUSTRA_RETURN_IF_ERROR(CheckStageMove(
            pipeline, o.stage_id(), request->to_stage_id(), request->reopen()));
        CUSTRA_ASSIGN_OR_RETURN(std::vector<LogRecord> changes,
                                store.StageChanges(o.id(), 0, INT32_MAX));
        const absl::Time latest =
            changes.empty() ? FromTimestamp(o.open_time())
                            : absl::FromUnixMicros(changes.back().time_us);
        const absl::Time when = request->has_change_time()
                                    ? FromTimestamp(request->change_time())
                                    : now;
        CUSTRA_RETURN_IF_ERROR(CheckStageChangeTime(when, latest, now));
        const PipelineStageDef* to =
            FindStage(pipeline, request->to_stage_id());
        v1::OpportunityStageChange change;
        change.set_opportunity_id(o.id());
        change.set_from_stage_id(o.stage_id());
        change.set_to_stage_id(to->id);
        change.set_actor(request->actor());
        ToTimestamp(when, change.mutable_change_time());
        change.set_note(request->note());
        change.set_reopen(request->reopen());
        o.set_stage_id(to->id);
        if (request->has_probability_override()) {
          *o.mutable_probability_override() = request->probability_override();
        } else {
          o.clear_probability_override();
        }
        Derive(pipeline, o);
        change.set_probability(o.probability());
        ToTimestamp(when, o.mutable_stage_enter_time());
        if (to->kind == StageKind::kOpen) {
          o.clear_close_time();
        } else {
          ToTimestamp(when, o.mutable_close_time());
          if (!request->close_reason().empty()) {
            o.set_close_reason(request->close_reason());
          }
        }
        ToTimestamp(now, o.mutable_update_time());
        int64_t seq = 0;
        CUSTRA_RETURN_IF_ERROR(store.InTransaction([&]() -> absl::Status {
          CUSTRA_RETURN_IF_ERROR(
              store.UpdateOpportunity(o.id(), o.SerializeAsString()));
          CUSTRA_ASSIGN_OR_RETURN(
              seq, store.AppendStageChange(o.id(), absl::ToUnixMicros(when),
                                           change.SerializeAsString()));
          if (!request->request_id().empty()) {
            CUSTRA_RETURN_IF_ERROR(
                store.RememberRequest("stage_change", request->request_id(),
                                      fingerprint, absl::StrCat(seq), now));
          }
          return absl::OkStatus();
        }));
        change.set_id(absl::StrCat("sc-", seq));
        *response->mutable_opportunity() = std::move(o);
        *response->mutable_stage_change() = std::move(change);
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::ListStageChanges(
    grpc::ServerContext* context, const v1::ListStageChangesRequest* request,
    v1::ListStageChangesResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 50, 1000, true));
        const std::string digest = Digest({request->opportunity_id()});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t after,
            DecodePageNumber("changes", digest, request->page_token()));
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_RETURN_IF_ERROR(
            LoadOpportunity(store, request->opportunity_id()).status());
        CUSTRA_ASSIGN_OR_RETURN(std::vector<LogRecord> changes,
                                store.StageChanges(request->opportunity_id(),
                                                   after, page_size + 1));
        const bool more = static_cast<int>(changes.size()) > page_size;
        if (more) changes.pop_back();
        for (const LogRecord& r : changes) {
          *response->add_stage_changes() = ParseChange(r);
        }
        if (more) {
          response->set_next_page_token(EncodePageToken(
              "changes", digest, absl::StrCat(changes.back().seq)));
        }
        return absl::OkStatus();
      });
}

// --- Contacts and trust
// ----------------------------------------------------------

grpc::Status OpportunityServiceImpl::CreateContact(
    grpc::ServerContext* context, const v1::CreateContactRequest* request,
    v1::CreateContactResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_RETURN_IF_ERROR(CheckRequestId(request->request_id()));
        v1::AccountContact c = request->contact();
        if (!c.id().empty() && !ValidRecordId(c.id())) {
          return InvalidFieldError("contact.id",
                                   "must match ^[A-Za-z0-9._-]{1,64}$");
        }
        CUSTRA_RETURN_IF_ERROR(CheckContactFields(c));
        const std::string fingerprint = Digest({request->SerializeAsString()});
        const absl::Time now = absl::Now();
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        if (!request->request_id().empty()) {
          CUSTRA_ASSIGN_OR_RETURN(
              std::optional<std::string> existing,
              store.FindRequest("contact", request->request_id(), fingerprint));
          if (existing) {
            CUSTRA_ASSIGN_OR_RETURN(*response->mutable_contact(),
                                    LoadContact(store, *existing));
            return absl::OkStatus();
          }
        }
        CUSTRA_RETURN_IF_ERROR(
            RequireAccount(store, c.customer_id(), "contact.customer_id"));
        ToTimestamp(now, c.mutable_create_time());
        ToTimestamp(now, c.mutable_update_time());
        CUSTRA_RETURN_IF_ERROR(store.InTransaction([&]() -> absl::Status {
          if (c.id().empty()) {
            CUSTRA_ASSIGN_OR_RETURN(std::string id,
                                    store.NextId("contacts", "ct"));
            c.set_id(id);
          }
          CUSTRA_RETURN_IF_ERROR(store.InsertContact(
              {c.id(), c.customer_id(), c.SerializeAsString()}));
          if (!request->request_id().empty()) {
            CUSTRA_RETURN_IF_ERROR(store.RememberRequest(
                "contact", request->request_id(), fingerprint, c.id(), now));
          }
          return absl::OkStatus();
        }));
        *response->mutable_contact() = std::move(c);
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::GetContact(
    grpc::ServerContext* context, const v1::GetContactRequest* request,
    v1::GetContactResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(*response->mutable_contact(),
                                LoadContact(store, request->contact_id()));
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::ListContacts(
    grpc::ServerContext* context, const v1::ListContactsRequest* request,
    v1::ListContactsResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 50, 1000, true));
        static const std::map<std::string, FieldType> kFields = {
            {"customer_id", FieldType::kString},
            {"buying_role", FieldType::kEnum},
            {"attitude", FieldType::kEnum},
            {"disc_style", FieldType::kEnum}};
        CUSTRA_ASSIGN_OR_RETURN(std::vector<FilterTerm> terms,
                                ParseListFilter(request->filter(), kFields));
        const std::string digest = Digest({request->filter()});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t offset,
            DecodePageNumber("contacts", digest, request->page_token()));
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(std::vector<OpportunityRecord> records,
                                store.AllContacts());
        std::vector<v1::AccountContact> contacts;
        for (const OpportunityRecord& r : records) {
          v1::AccountContact c;
          c.ParseFromString(r.record);
          bool ok = true;
          for (const FilterTerm& t : terms) {
            if (t.field == "customer_id") {
              ok = ok && Compare(t.op, c.customer_id(), t.text);
            } else if (t.field == "buying_role") {
              ok =
                  ok && Compare(t.op,
                                absl::StripPrefix(
                                    v1::ContactBuyingRole_Name(c.buying_role()),
                                    "CONTACT_BUYING_ROLE_"),
                                t.text);
            } else if (t.field == "attitude") {
              ok = ok && Compare(t.op,
                                 absl::StripPrefix(
                                     v1::ContactAttitude_Name(c.attitude()),
                                     "CONTACT_ATTITUDE_"),
                                 t.text);
            } else if (t.field == "disc_style") {
              ok = ok &&
                   Compare(t.op,
                           absl::StripPrefix(v1::DiscStyle_Name(c.disc_style()),
                                             "DISC_STYLE_"),
                           t.text);
            }
          }
          if (ok) contacts.push_back(std::move(c));
        }
        std::stable_sort(
            contacts.begin(), contacts.end(),
            [](const v1::AccountContact& a, const v1::AccountContact& b) {
              return std::tie(a.customer_id(), a.name(), a.id()) <
                     std::tie(b.customer_id(), b.name(), b.id());
            });
        PageOut(
            contacts, offset, page_size, "contacts", digest,
            [&](const v1::AccountContact& c) { *response->add_contacts() = c; },
            response->mutable_next_page_token());
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::UpdateContact(
    grpc::ServerContext* context, const v1::UpdateContactRequest* request,
    v1::UpdateContactResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        static const std::set<std::string> kAllowed = {
            "name",     "title",      "buying_role",           "influence",
            "attitude", "disc_style", "relationship_strength", "notes"};
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(v1::AccountContact c,
                                LoadContact(store, request->contact().id()));
        CUSTRA_RETURN_IF_ERROR(
            ApplyMask(request->contact(), request->update_mask(), kAllowed, c));
        CUSTRA_RETURN_IF_ERROR(CheckContactFields(c));
        ToTimestamp(absl::Now(), c.mutable_update_time());
        CUSTRA_RETURN_IF_ERROR(
            store.UpdateContact(c.id(), c.SerializeAsString()));
        *response->mutable_contact() = std::move(c);
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::DeleteContact(
    grpc::ServerContext* context, const v1::DeleteContactRequest* request,
    v1::DeleteContactResponse* /*response*/) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(v1::AccountContact c,
                                LoadContact(store, request->contact_id()));
        CUSTRA_ASSIGN_OR_RETURN(std::vector<OpportunityRecord> records,
                                store.AllOpportunities());
        CUSTRA_ASSIGN_OR_RETURN(std::vector<LogRecord> activities,
                                store.AllActivities());
        return store.InTransaction([&]() -> absl::Status {
          // Remove the contact from the account's activities.
          for (const LogRecord& r : activities) {
            if (r.owner_id != c.customer_id()) continue;
            v1::SalesActivity a;
            a.ParseFromString(r.record);
            auto* ids = a.mutable_contact_ids();
            const int before = ids->size();
            ids->erase(std::remove(ids->begin(), ids->end(), c.id()),
                       ids->end());
            if (ids->size() != before) {
              CUSTRA_RETURN_IF_ERROR(
                  store.UpdateActivity(r.seq, a.SerializeAsString()));
            }
          }
          // Unlink the contact from the account's deals.
          for (const OpportunityRecord& r : records) {
            if (r.customer_id != c.customer_id()) continue;
            CUSTRA_ASSIGN_OR_RETURN(v1::Opportunity o, ParseOpportunity(r));
            auto* links = o.mutable_contacts();
            const int before = links->size();
            links->erase(std::remove_if(links->begin(), links->end(),
                                        [&](const auto& l) {
                                          return l.contact_id() == c.id();
                                        }),
                         links->end());
            if (links->size() != before) {
              CUSTRA_RETURN_IF_ERROR(
                  store.UpdateOpportunity(o.id(), o.SerializeAsString()));
            }
          }
          return store.DeleteContact(c.id());
        });
      });
}

grpc::Status OpportunityServiceImpl::LinkOpportunityContact(
    grpc::ServerContext* context,
    const v1::LinkOpportunityContactRequest* request,
    v1::LinkOpportunityContactResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_RETURN_IF_ERROR(
            CheckLength(request->link().note(), 0, 1000, "link.note"));
        if (!v1::ContactBuyingRole_IsValid(request->link().role())) {
          return InvalidFieldError("link.role", "is not a buying role");
        }
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(
            v1::Opportunity o,
            LoadOpportunity(store, request->opportunity_id()));
        if (request->link().contact_id().empty()) {
          return InvalidFieldError("link.contact_id", "is required");
        }
        CUSTRA_ASSIGN_OR_RETURN(
            v1::AccountContact c,
            LoadContact(store, request->link().contact_id()));
        if (c.customer_id() != o.customer_id()) {
          return WithReason(
              absl::FailedPreconditionError(absl::StrCat(
                  "link.contact_id: contact ", c.id(), " belongs to account ",
                  c.customer_id(), ", not to the deal's account ",
                  o.customer_id())),
              reason::kFailedPrecondition);
        }
        v1::OpportunityContactLink link = request->link();
        if (link.role() == v1::CONTACT_BUYING_ROLE_UNSPECIFIED) {
          link.set_role(c.buying_role());
        }
        const absl::Time now = absl::Now();
        ToTimestamp(now, link.mutable_link_time());
        bool replaced = false;
        for (v1::OpportunityContactLink& existing : *o.mutable_contacts()) {
          if (existing.contact_id() == link.contact_id()) {
            existing = link;
            replaced = true;
          }
        }
        if (!replaced) *o.add_contacts() = link;
        ToTimestamp(now, o.mutable_update_time());
        CUSTRA_RETURN_IF_ERROR(
            store.UpdateOpportunity(o.id(), o.SerializeAsString()));
        *response->mutable_opportunity() = std::move(o);
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::UnlinkOpportunityContact(
    grpc::ServerContext* context,
    const v1::UnlinkOpportunityContactRequest* request,
    v1::UnlinkOpportunityContactResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->contact_id().empty()) {
          return InvalidFieldError("contact_id", "is required");
        }
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(
            v1::Opportunity o,
            LoadOpportunity(store, request->opportunity_id()));
        auto* links = o.mutable_contacts();
        const int before = links->size();
        links->erase(std::remove_if(links->begin(), links->end(),
                                    [&](const auto& l) {
                                      return l.contact_id() ==
                                             request->contact_id();
                                    }),
                     links->end());
        if (links->size() == before) {
          // Not linked: nothing to change.
          *response->mutable_opportunity() = std::move(o);
          return absl::OkStatus();
        }
        ToTimestamp(absl::Now(), o.mutable_update_time());
        CUSTRA_RETURN_IF_ERROR(
            store.UpdateOpportunity(o.id(), o.SerializeAsString()));
        *response->mutable_opportunity() = std::move(o);
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::GetAccountTrust(
    grpc::ServerContext* context, const v1::GetAccountTrustRequest* request,
    v1::GetAccountTrustResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_RETURN_IF_ERROR(
            RequireAccount(store, request->customer_id(), "customer_id"));
        CUSTRA_ASSIGN_OR_RETURN(std::optional<std::string> record,
                                store.GetTrust(request->customer_id()));
        v1::AccountTrust* trust = response->mutable_trust();
        if (record) trust->ParseFromString(*record);
        trust->set_customer_id(request->customer_id());
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::SetAccountTrust(
    grpc::ServerContext* context, const v1::SetAccountTrustRequest* request,
    v1::SetAccountTrustResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_RETURN_IF_ERROR(
            CheckLength(request->actor(), 1, kMaxUser, "actor"));
        CUSTRA_RETURN_IF_ERROR(CheckLength(request->note(), 0, 1000, "note"));
        if (!v1::AccountTrustLevel_IsValid(request->level())) {
          return InvalidFieldError("level", "is not a trust level");
        }
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_RETURN_IF_ERROR(
            RequireAccount(store, request->customer_id(), "customer_id"));
        v1::AccountTrust& trust = *response->mutable_trust();
        trust.set_customer_id(request->customer_id());
        trust.set_level(request->level());
        trust.set_note(request->note());
        trust.set_updated_by(request->actor());
        ToTimestamp(absl::Now(), trust.mutable_update_time());
        return store.PutTrust(request->customer_id(),
                              trust.SerializeAsString());
      });
}

// --- Activities --------------------------------------------------------------

grpc::Status OpportunityServiceImpl::LogActivity(
    grpc::ServerContext* context, const v1::LogActivityRequest* request,
    v1::LogActivityResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_RETURN_IF_ERROR(CheckRequestId(request->request_id()));
        v1::SalesActivity a = request->activity();
        a.clear_id();
        if (a.kind() == v1::SALES_ACTIVITY_KIND_UNSPECIFIED ||
            !v1::SalesActivityKind_IsValid(a.kind())) {
          return InvalidFieldError("activity.kind",
                                   "is required: VISIT, CALL, MEETING, "
                                   "PRESENTATION or GIFT");
        }
        const absl::Time now = absl::Now();
        if (!a.has_occur_time()) {
          return InvalidFieldError("activity.occur_time", "is required");
        }
        if (FromTimestamp(a.occur_time()) > now + absl::Hours(24)) {
          return InvalidFieldError("activity.occur_time",
                                   "is more than one day in the future");
        }
        if (a.contact_ids_size() > 50) {
          return InvalidFieldError("activity.contact_ids",
                                   "must hold at most 50 contacts");
        }
        CUSTRA_RETURN_IF_ERROR(
            CheckLength(a.owner(), 1, kMaxUser, "activity.owner"));
        CUSTRA_RETURN_IF_ERROR(
            CheckLength(a.summary(), 0, 1000, "activity.summary"));
        CUSTRA_RETURN_IF_ERROR(
            CheckLength(a.outcome(), 0, 4000, "activity.outcome"));
        CUSTRA_RETURN_IF_ERROR(
            CheckLength(a.next_step(), 0, 1000, "activity.next_step"));
        const std::string fingerprint = Digest({request->SerializeAsString()});
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        if (!request->request_id().empty()) {
          CUSTRA_ASSIGN_OR_RETURN(
              std::optional<std::string> existing,
              store.FindRequest("activity", request->request_id(),
                                fingerprint));
          if (existing) {
            int64_t seq = 0;
            if (absl::SimpleAtoi(*existing, &seq)) {
              CUSTRA_ASSIGN_OR_RETURN(LogRecord r, store.GetActivity(seq));
              *response->mutable_activity() = ParseActivity(r);
              return absl::OkStatus();
            }
          }
        }
        CUSTRA_RETURN_IF_ERROR(
            RequireAccount(store, a.customer_id(), "activity.customer_id"));
        std::optional<v1::Opportunity> deal;
        if (!a.opportunity_id().empty()) {
          auto o = LoadOpportunity(store, a.opportunity_id());
          if (!o.ok()) return o.status();
          if (o->customer_id() != a.customer_id()) {
            return InvalidFieldError("activity.opportunity_id",
                                     absl::StrCat("opportunity ", o->id(),
                                                  " is on another account"));
          }
          deal = *std::move(o);
        }
        for (int i = 0; i < a.contact_ids_size(); ++i) {
          auto c = LoadContact(store, a.contact_ids(i));
          if (!c.ok()) return c.status();
          if (c->customer_id() != a.customer_id()) {
            return InvalidFieldError(
                absl::StrCat("activity.contact_ids[", i, "]"),
                "is a contact of another account");
          }
        }
        ToTimestamp(now, a.mutable_create_time());
        int64_t seq = 0;
        CUSTRA_RETURN_IF_ERROR(store.InTransaction([&]() -> absl::Status {
          CUSTRA_ASSIGN_OR_RETURN(
              seq, store.AppendActivity(
                       a.customer_id(), a.opportunity_id(),
                       absl::ToUnixMicros(FromTimestamp(a.occur_time())),
                       a.SerializeAsString()));
          if (deal && (!deal->has_last_activity_time() ||
                       FromTimestamp(deal->last_activity_time()) <
                           FromTimestamp(a.occur_time()))) {
            *deal->mutable_last_activity_time() = a.occur_time();
            CUSTRA_RETURN_IF_ERROR(
                store.UpdateOpportunity(deal->id(), deal->SerializeAsString()));
          }
          if (!request->request_id().empty()) {
            CUSTRA_RETURN_IF_ERROR(
                store.RememberRequest("activity", request->request_id(),
                                      fingerprint, absl::StrCat(seq), now));
          }
          return absl::OkStatus();
        }));
        a.set_id(absl::StrCat("act-", seq));
        *response->mutable_activity() = std::move(a);
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::ListActivities(
    grpc::ServerContext* context, const v1::ListActivitiesRequest* request,
    v1::ListActivitiesResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 50, 1000, true));
        static const std::map<std::string, FieldType> kFields = {
            {"customer_id", FieldType::kString},
            {"opportunity_id", FieldType::kString},
            {"contact_id", FieldType::kString},
            {"owner", FieldType::kString},
            {"kind", FieldType::kEnum},
            {"occur_time", FieldType::kTime}};
        CUSTRA_ASSIGN_OR_RETURN(std::vector<FilterTerm> terms,
                                ParseListFilter(request->filter(), kFields));
        const std::string digest = Digest({request->filter()});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t offset,
            DecodePageNumber("activities", digest, request->page_token()));
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(std::vector<LogRecord> records,
                                store.AllActivities());
        std::vector<v1::SalesActivity> activities;
        for (const LogRecord& r : records) {
          v1::SalesActivity a = ParseActivity(r);
          bool ok = true;
          for (const FilterTerm& t : terms) {
            if (t.field == "customer_id") {
              ok = ok && Compare(t.op, a.customer_id(), t.text);
            } else if (t.field == "opportunity_id") {
              ok = ok && Compare(t.op, a.opportunity_id(), t.text);
            } else if (t.field == "owner") {
              ok = ok && Compare(t.op, a.owner(), t.text);
            } else if (t.field == "contact_id") {
              const bool has =
                  std::find(a.contact_ids().begin(), a.contact_ids().end(),
                            t.text) != a.contact_ids().end();
              ok = ok && (t.op == FilterOp::kEq ? has : !has);
            } else if (t.field == "kind") {
              ok = ok && Compare(t.op,
                                 absl::StripPrefix(
                                     v1::SalesActivityKind_Name(a.kind()),
                                     "SALES_ACTIVITY_KIND_"),
                                 t.text);
            } else if (t.field == "occur_time") {
              ok = ok && Compare(t.op, r.time_us, t.number);
            }
          }
          if (ok) activities.push_back(std::move(a));
        }
        PageOut(
            activities, offset, page_size, "activities", digest,
            [&](const v1::SalesActivity& a) {
              *response->add_activities() = a;
            },
            response->mutable_next_page_token());
        return absl::OkStatus();
      });
}

// --- Reports
// --------------------------------------------------------------------

namespace {

void ToProto(const StageTotals& t, const std::string& currency,
             v1::PipelineStageTotals* out) {
  out->set_stage_id(t.stage_id);
  out->set_display_name(t.display_name);
  out->set_kind(static_cast<v1::PipelineStageKind>(t.kind));
  out->set_count(static_cast<int32_t>(t.count));
  SetMoney(t.amount_micros, currency, out->mutable_amount());
  SetMoney(t.weighted_amount_micros, currency, out->mutable_weighted_amount());
}

void ToProto(const SummaryGroup& g, const std::string& currency,
             v1::PipelineSummaryGroup* out) {
  out->set_owner(g.owner);
  for (const StageTotals& t : g.stages) ToProto(t, currency, out->add_stages());
  ToProto(g.open_total, currency, out->mutable_open_total());
  out->set_won_count(static_cast<int32_t>(g.won_count));
  out->set_lost_count(static_cast<int32_t>(g.lost_count));
  out->set_win_rate_by_count(g.win_rate_by_count);
  SetMoney(g.won_amount_micros, currency, out->mutable_won_amount());
  SetMoney(g.lost_amount_micros, currency, out->mutable_lost_amount());
  out->set_win_rate_by_amount(g.win_rate_by_amount);
  for (const StageConversion& c : g.conversions) {
    v1::PipelineStageConversion* o = out->add_conversions();
    o->set_stage_id(c.stage_id);
    o->set_entered_count(static_cast<int32_t>(c.entered_count));
    o->set_advanced_count(static_cast<int32_t>(c.advanced_count));
    o->set_lost_count(static_cast<int32_t>(c.lost_count));
    o->set_conversion_rate(c.conversion_rate);
    o->set_average_days_in_stage(c.average_days_in_stage);
    o->set_completed_stay_count(static_cast<int32_t>(c.completed_stay_count));
  }
  out->set_average_won_cycle_days(g.average_won_cycle_days);
  out->set_average_closed_cycle_days(g.average_closed_cycle_days);
}

void ToProto(const ForecastMonthValue& m, const std::string& currency,
             v1::ForecastMonth* out) {
  out->set_year(m.year);
  out->set_month(m.month);
  out->set_open_count(static_cast<int32_t>(m.open_count));
  SetMoney(m.best_case_amount_micros, currency,
           out->mutable_best_case_amount());
  SetMoney(m.weighted_amount_micros, currency, out->mutable_weighted_amount());
  out->set_won_count(static_cast<int32_t>(m.won_count));
  SetMoney(m.won_amount_micros, currency, out->mutable_won_amount());
}

}  // namespace

grpc::ServerUnaryReactor* OpportunityServiceImpl::GetPipelineSummary(
    grpc::CallbackServerContext* context,
    const v1::GetPipelineSummaryRequest* request,
    v1::GetPipelineSummaryResponse* response) {
  return gate_->ServeTenantRead(
      context, [this, request, response](TenantCall& call) -> absl::Status {
        SummaryOptions options;
        options.end_day = UtcDay(absl::Now());
        if (request->has_end_date()) {
          CUSTRA_ASSIGN_OR_RETURN(options.end_day,
                                  DayOf(request->end_date(), "end_date"));
        }
        options.start_day = OneYearBefore(options.end_day);
        if (request->has_start_date()) {
          CUSTRA_ASSIGN_OR_RETURN(options.start_day,
                                  DayOf(request->start_date(), "start_date"));
        }
        options.group_by_owner =
            request->group_by() == v1::PIPELINE_SUMMARY_GROUP_BY_OWNER;
        TenantDatabase::ReadSession session(call.database.get(),
                                            TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(PipelineDef pipeline, LoadPipeline(store));
        CUSTRA_ASSIGN_OR_RETURN(Deals deals,
                                LoadDeals(store, request->filter()));
        CUSTRA_ASSIGN_OR_RETURN(options.currency.tenant_default,
                                TenantCurrency(session.db()));
        options.currency.code = request->currency_code().empty()
                                    ? options.currency.tenant_default
                                    : request->currency_code();
        CUSTRA_ASSIGN_OR_RETURN(
            std::vector<CalibratedStage> calibrated,
            CalibratedFor(request->probability_source(), pipeline, store));
        if (!calibrated.empty()) {
          options.weighting.source = WeightingSource::kCalibrated;
          options.weighting.calibrated = calibrated;
        }
        CUSTRA_ASSIGN_OR_RETURN(
            PipelineSummary summary,
            SummarizePipeline(pipeline, deals.facts, options));
        const std::string& currency = options.currency.code;
        ToProto(summary.total, currency, response->mutable_total());
        for (const SummaryGroup& g : summary.by_owner) {
          ToProto(g, currency, response->add_by_owner());
        }
        ToDate(options.start_day, response->mutable_start_date());
        ToDate(options.end_day, response->mutable_end_date());
        response->set_currency_code(currency);
        response->set_other_currency_count(
            static_cast<int32_t>(summary.other_currency_count));
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::GetForecast(
    grpc::ServerContext* context, const v1::GetForecastRequest* request,
    v1::GetForecastResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        ForecastOptions options;
        options.months = request->months();
        options.start_day = UtcDay(absl::Now());
        if (request->has_start_date()) {
          CUSTRA_ASSIGN_OR_RETURN(options.start_day,
                                  DayOf(request->start_date(), "start_date"));
        }
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(PipelineDef pipeline, LoadPipeline(store));
        CUSTRA_ASSIGN_OR_RETURN(Deals deals,
                                LoadDeals(store, request->filter()));
        CUSTRA_ASSIGN_OR_RETURN(options.currency.tenant_default,
                                TenantCurrency(session.db()));
        options.currency.code = request->currency_code().empty()
                                    ? options.currency.tenant_default
                                    : request->currency_code();
        CUSTRA_ASSIGN_OR_RETURN(
            std::vector<CalibratedStage> calibrated,
            CalibratedFor(request->probability_source(), pipeline, store));
        if (!calibrated.empty()) {
          options.weighting.source = WeightingSource::kCalibrated;
          options.weighting.calibrated = calibrated;
        }
        CUSTRA_ASSIGN_OR_RETURN(
            ForecastResult result,
            ForecastByCloseMonth(pipeline, deals.facts, options));
        const std::string& currency = options.currency.code;
        for (const ForecastMonthValue& m : result.months) {
          ToProto(m, currency, response->add_months());
        }
        ToProto(result.overdue, currency, response->mutable_overdue());
        SetMoney(result.total_best_case_amount_micros, currency,
                 response->mutable_total_best_case_amount());
        SetMoney(result.total_weighted_amount_micros, currency,
                 response->mutable_total_weighted_amount());
        response->set_currency_code(currency);
        response->set_other_currency_count(
            static_cast<int32_t>(result.other_currency_count));
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::ListStaleOpportunities(
    grpc::ServerContext* context,
    const v1::ListStaleOpportunitiesRequest* request,
    v1::ListStaleOpportunitiesResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 50, 1000, true));
        StaleOptions options;
        options.inactive_days = request->inactive_days();
        for (const auto& [stage, days] : request->stage_inactive_days()) {
          options.stage_inactive_days[stage] = days;
        }
        options.as_of = request->has_as_of_time()
                            ? FromTimestamp(request->as_of_time())
                            : absl::Now();
        v1::ListStaleOpportunitiesRequest unpaged = *request;
        unpaged.clear_page_token();
        unpaged.clear_page_size();
        const std::string stable = Digest({unpaged.SerializeAsString()});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t offset,
            DecodePageNumber("stale", stable, request->page_token()));
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(PipelineDef pipeline, LoadPipeline(store));
        CUSTRA_ASSIGN_OR_RETURN(Deals deals,
                                LoadDeals(store, request->filter()));
        CUSTRA_ASSIGN_OR_RETURN(std::vector<StaleDeal> stale,
                                ListStaleDeals(pipeline, deals.facts, options));
        PageOut(
            stale, offset, page_size, "stale", stable,
            [&](const StaleDeal& s) {
              v1::StaleOpportunity* out = response->add_stale_opportunities();
              *out->mutable_opportunity() = deals.protos[s.index];
              out->set_inactive_days(static_cast<int32_t>(s.inactive_days));
              out->set_threshold_days(s.threshold_days);
            },
            response->mutable_next_page_token());
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::GetDecisionMakerCoverage(
    grpc::ServerContext* context,
    const v1::GetDecisionMakerCoverageRequest* request,
    v1::GetDecisionMakerCoverageResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 50, 1000, true));
        CoverageOptions options;
        options.engagement_days = request->engagement_days();
        options.as_of = TimeOr(*request);
        v1::GetDecisionMakerCoverageRequest unpaged = *request;
        unpaged.clear_page_token();
        unpaged.clear_page_size();
        const std::string stable = Digest({unpaged.SerializeAsString()});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t offset,
            DecodePageNumber("coverage", stable, request->page_token()));
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(PipelineDef pipeline, LoadPipeline(store));
        CUSTRA_ASSIGN_OR_RETURN(Deals deals,
                                LoadDeals(store, request->filter()));
        CUSTRA_ASSIGN_OR_RETURN(std::vector<OpportunityRecord> contact_records,
                                store.AllContacts());
        std::vector<ContactFacts> contacts;
        for (const OpportunityRecord& r : contact_records) {
          v1::AccountContact c;
          c.ParseFromString(r.record);
          contacts.push_back({c.id(), c.customer_id(),
                              static_cast<ContactStance>(c.attitude())});
        }
        CUSTRA_ASSIGN_OR_RETURN(std::vector<LogRecord> activity_records,
                                store.AllActivities());
        std::vector<ActivityFacts> activities;
        for (const LogRecord& r : activity_records) {
          const v1::SalesActivity a = ParseActivity(r);
          activities.push_back(
              {a.customer_id(),
               FromTimestamp(a.occur_time()),
               {a.contact_ids().begin(), a.contact_ids().end()}});
        }
        CUSTRA_ASSIGN_OR_RETURN(
            DecisionMakerCoverage coverage,
            MeasureDecisionMakerCoverage(pipeline, deals.facts, contacts,
                                         activities, options));
        response->set_open_count(static_cast<int32_t>(coverage.open_count));
        response->set_covered_count(
            static_cast<int32_t>(coverage.covered_count));
        response->set_no_decision_maker_count(
            static_cast<int32_t>(coverage.no_decision_maker_count));
        response->set_not_engaged_count(
            static_cast<int32_t>(coverage.not_engaged_count));
        response->set_blocker_count(
            static_cast<int32_t>(coverage.blocker_count));
        response->set_coverage_rate(coverage.coverage_rate);
        PageOut(
            coverage.gaps, offset, page_size, "coverage", stable,
            [&](const CoverageGap& g) {
              v1::DecisionMakerCoverageGap* out = response->add_gaps();
              *out->mutable_opportunity() = deals.protos[g.index];
              out->set_reason(
                  static_cast<v1::DecisionMakerGapReason>(g.reason));
              for (const std::string& id : g.decision_maker_contact_ids) {
                out->add_decision_maker_contact_ids(id);
              }
            },
            response->mutable_next_page_token());
        return absl::OkStatus();
      });
}

grpc::Status OpportunityServiceImpl::GetCalibratedProbabilities(
    grpc::ServerContext* context,
    const v1::GetCalibratedProbabilitiesRequest* request,
    v1::GetCalibratedProbabilitiesResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CalibrationOptions options;
        options.min_samples = request->min_samples();
        options.end_day = UtcDay(absl::Now());
        if (request->has_end_date()) {
          CUSTRA_ASSIGN_OR_RETURN(options.end_day,
                                  DayOf(request->end_date(), "end_date"));
        }
        if (request->has_start_date()) {
          CUSTRA_ASSIGN_OR_RETURN(options.start_day,
                                  DayOf(request->start_date(), "start_date"));
        }
        TenantDatabase::Session session(call.database.get(),
                                        TenantDatabase::Purpose::kAsIs);
        OpportunityStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(PipelineDef pipeline, LoadPipeline(store));
        CUSTRA_ASSIGN_OR_RETURN(Deals deals,
                                LoadDeals(store, request->filter()));
        CUSTRA_ASSIGN_OR_RETURN(
            CalibrationResult result,
            CalibrateStageProbabilities(pipeline, deals.facts, options));
        for (const CalibratedStage& s : result.stages) {
          v1::CalibratedStageProbability* out = response->add_stages();
          out->set_stage_id(s.stage_id);
          out->set_display_name(s.display_name);
          out->set_configured_probability(s.configured_probability);
          out->set_observed_probability(s.observed_probability);
          out->set_sample_count(static_cast<int32_t>(s.sample_count));
          out->set_won_count(static_cast<int32_t>(s.won_count));
          out->set_calibrated_probability(s.calibrated_probability);
          out->set_source(s.sample_count >= result.min_samples
                              ? v1::CALIBRATION_SOURCE_OBSERVED
                              : v1::CALIBRATION_SOURCE_CONFIGURED);
        }
        response->set_closed_count(static_cast<int32_t>(result.closed_count));
        response->set_min_samples(result.min_samples);
        return absl::OkStatus();
      });
}

}  // namespace custra::server
