// KeyAccountService: scoring profiles, account assessments and scoring runs.
// The customer-value model RPCs are in value_model_service.cc.

#include "server/key_account_service.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "common/account_scoring.h"
#include "common/errors.h"
#include "common/ingestion_store.h"
#include "common/key_account_store.h"
#include "common/status_macros.h"
#include "server/key_account_convert.h"
#include "server/paging.h"
#include "server/proto_convert.h"
#include "server/segmentation_convert.h"
#include "server/value_model_runtime.h"

namespace custra::server {
namespace {

constexpr char kDefaultProfile[] = "default";

// The stored profile, creating "default" on first use. NOT_FOUND for an
// unknown id.
absl::StatusOr<v1::ScoringProfile> LoadProfile(KeyAccountStore& store,
                                               absl::string_view id,
                                               absl::Time now) {
  CUSTRA_ASSIGN_OR_RETURN(std::optional<std::string> record,
                          store.GetProfile(id));
  v1::ScoringProfile profile;
  if (record) {
    if (!profile.ParseFromString(*record)) {
      return absl::InternalError(
          absl::StrCat("scoring profile ", id, " is unreadable"));
    }
    return profile;
  }
  if (id != kDefaultProfile) {
    return WithReason(absl::NotFoundError(absl::StrCat("scoring profile ", id,
                                                       " does not exist")),
                      reason::kNotFound);
  }
  profile = DefaultProfileProto();
  ToTimestamp(now, profile.mutable_create_time());
  ToTimestamp(now, profile.mutable_update_time());
  CUSTRA_RETURN_IF_ERROR(store.PutProfile(id, profile.SerializeAsString()));
  return profile;
}

absl::StatusOr<std::string> Currency(Connection& db) {
  return IngestionStore(&db).TenantCurrency();
}

// The first day of the `months` months ending on `as_of_day`.
int64_t WindowStart(int64_t as_of_day, int months) {
  const absl::CivilDay epoch(1970, 1, 1);
  const absl::CivilDay as_of = epoch + as_of_day;
  // The same day of the month `months` earlier, or that month's last day
  // when it is shorter (as of Mar 31, one month back is Feb 28).
  const absl::CivilMonth month = absl::CivilMonth(as_of) - months;
  const absl::CivilDay month_end = absl::CivilDay(month + 1) - 1;
  const absl::CivilDay back(month.year(), month.month(),
                            std::min<int>(as_of.day(), month_end.day()));
  return (back + 1) - epoch;
}

// Scoring inputs of every account from its rollups.
std::vector<AccountInput> ScoringInputs(
    const CustomerHistory& history, int64_t as_of_day,
    const ScoringProfileParams& params, bool has_cost,
    const absl::flat_hash_map<std::string, int64_t>& referrals,
    const absl::flat_hash_map<std::string, AccountAssessment>& assessments,
    std::vector<size_t>* history_index, TenantTotals* totals) {
  const int64_t start = WindowStart(as_of_day, params.window_months);
  const int64_t length = as_of_day - start + 1;
  const int64_t previous_start = start - length;
  const int64_t year_start = WindowStart(as_of_day, 12);
  std::vector<AccountInput> inputs;
  for (size_t i = 0; i < history.customers.size(); ++i) {
    const CustomerHistory::Customer& c = history.customers[i];
    int64_t revenue = 0, profit = 0;
    for (size_t d = c.begin; d < c.end; ++d) {
      if (history.days[d].day < start) continue;
      revenue += history.days[d].amount;
      profit += history.days[d].profit;
    }
    totals->positive_revenue += std::max<int64_t>(revenue, 0);
    totals->positive_profit += std::max<int64_t>(profit, 0);
    if (!params.customer_kinds.empty() &&
        std::find(params.customer_kinds.begin(), params.customer_kinds.end(),
                  c.kind) == params.customer_kinds.end()) {
      continue;
    }
    const auto assessment = assessments.find(c.id);
    bool purchased = false;
    for (size_t d = c.begin; d < c.end && !purchased; ++d) {
      purchased = history.days[d].purchase;
    }
    if (!purchased && assessment == assessments.end()) continue;
    AccountInput& in = inputs.emplace_back();
    history_index->push_back(i);
    in.customer_id = c.id;
    in.as_of_day = as_of_day;
    in.has_profit_data = has_cost;
    for (size_t d = c.begin; d < c.end; ++d) {
      const CustomerHistory::Day& day = history.days[d];
      if (day.purchase && !in.first_purchase_day) {
        in.first_purchase_day = day.day;
      }
      if (day.day >= start) {
        in.revenue_window += day.amount;
        in.profit_window += day.profit;
        if (day.purchase) in.purchase_days.push_back(day.day);
      } else if (day.day >= previous_start) {
        in.revenue_previous_window += day.amount;
      }
      if (day.day >= year_start) in.revenue_last_12_months += day.amount;
    }
    if (const auto r = referrals.find(c.id); r != referrals.end()) {
      in.referrals_in_window = r->second;
    }
    in.wallet_micros = c.annual_wallet;
    if (assessment != assessments.end()) {
      in.strategic_value = assessment->second.strategic_value;
      in.cooperation = assessment->second.cooperation;
      if (assessment->second.wallet_micros) {
        in.wallet_micros = assessment->second.wallet_micros;
      }
    }
  }
  return inputs;
}

absl::StatusOr<v1::AccountScoringRun> ParseRun(const StoredItem& item) {
  v1::AccountScoringRun run;
  if (!run.ParseFromString(item.record)) {
    return absl::InternalError(
        absl::StrCat("scoring run ", item.id, " is unreadable"));
  }
  run.set_id(item.id);  // Assigned when stored.
  return run;
}

absl::StatusOr<StoredItem> RunOrNewest(KeyAccountStore& store,
                                       absl::string_view id) {
  return id.empty() ? store.NewestScoringRun() : store.GetScoringRun(id);
}

// An account's score as the API shows it.
void FillScore(const StoredScore& s, const v1::AccountScoringRun& run,
               const CustomerHistory::Customer* customer,
               absl::string_view currency, bool explain,
               v1::AccountScore* out) {
  out->set_customer_id(s.customer_id);
  if (customer != nullptr) {
    out->set_customer_display_name(customer->display_name);
    out->set_customer_kind(static_cast<v1::CustomerKind>(customer->kind));
  }
  out->set_scoring_run_id(s.run_id);
  *out->mutable_as_of_date() = run.as_of_date();
  out->set_score(s.score);
  out->set_tier(static_cast<v1::AccountTier>(s.tier));
  out->set_rank(s.rank);
  out->set_account_count(run.account_count());
  if (explain) DecodeCriteria(s.detail, currency, out);
}

// Display names and kinds of the customers of some scores.
absl::StatusOr<std::map<std::string, CustomerHistory::Customer>> CustomersOf(
    Connection& db, const std::vector<StoredScore>& scores) {
  std::vector<std::string> ids;
  ids.reserve(scores.size());
  for (const StoredScore& s : scores) ids.push_back(s.customer_id);
  CUSTRA_ASSIGN_OR_RETURN(auto names,
                          IngestionStore(&db).GetCustomerNames(ids));
  // A customer deleted since the run is shown without a name.
  std::map<std::string, CustomerHistory::Customer> out;
  for (auto& [id, name] : names) {
    CustomerHistory::Customer& entry = out[id];
    entry.id = id;
    entry.kind = name.kind;
    entry.display_name = std::move(name.display_name);
  }
  return out;
}

}  // namespace

grpc::Status KeyAccountServiceImpl::GetScoringProfile(
    grpc::ServerContext* context, const v1::GetScoringProfileRequest* request,
    v1::GetScoringProfileResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->id().empty()) {
          return InvalidFieldError("id", "is required");
        }
        TenantDatabase::Session session(call.database.get());
        KeyAccountStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(*response->mutable_scoring_profile(),
                                LoadProfile(store, request->id(), absl::Now()));
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::ListScoringProfiles(
    grpc::ServerContext* context, const v1::ListScoringProfilesRequest* request,
    v1::ListScoringProfilesResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 50, 1000, true));
        std::string after;
        if (!request->page_token().empty()) {
          CUSTRA_ASSIGN_OR_RETURN(
              after, DecodePageToken("profiles", "", request->page_token()));
        }
        TenantDatabase::Session session(call.database.get());
        KeyAccountStore store(&session.db());
        CUSTRA_RETURN_IF_ERROR(
            LoadProfile(store, kDefaultProfile, absl::Now()).status());
        CUSTRA_ASSIGN_OR_RETURN(auto profiles,
                                store.ListProfiles(after, page_size + 1));
        const bool more = static_cast<int>(profiles.size()) > page_size;
        if (more) profiles.pop_back();
        for (const auto& [id, record] : profiles) {
          response->add_scoring_profiles()->ParseFromString(record);
        }
        if (more) {
          response->set_next_page_token(
              EncodePageToken("profiles", "", profiles.back().first));
        }
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::CreateScoringProfile(
    grpc::ServerContext* context,
    const v1::CreateScoringProfileRequest* request,
    v1::CreateScoringProfileResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        v1::ScoringProfile profile = request->scoring_profile();
        CUSTRA_RETURN_IF_ERROR(CheckProfileIdentity(profile));
        FillProfileDefaults(profile);
        CUSTRA_RETURN_IF_ERROR(ProfileParams(profile).status());
        if (profile.id() == kDefaultProfile) {
          return WithReason(
              absl::AlreadyExistsError(
                  "the default profile always exists; update it instead"),
              reason::kAlreadyExists);
        }
        const absl::Time now = absl::Now();
        ToTimestamp(now, profile.mutable_create_time());
        ToTimestamp(now, profile.mutable_update_time());
        TenantDatabase::Session session(call.database.get());
        CUSTRA_ASSIGN_OR_RETURN(
            std::string stored,
            KeyAccountStore(&session.db())
                .CreateProfile(profile.id(), profile.SerializeAsString(),
                               request->request_id(),
                               Digest({request->SerializeAsString()}), now));
        response->mutable_scoring_profile()->ParseFromString(stored);
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::UpdateScoringProfile(
    grpc::ServerContext* context,
    const v1::UpdateScoringProfileRequest* request,
    v1::UpdateScoringProfileResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        const v1::ScoringProfile& in = request->scoring_profile();
        if (in.id().empty()) {
          return InvalidFieldError("scoring_profile.id", "is required");
        }
        if (request->update_mask().paths().empty()) {
          return InvalidFieldError("update_mask",
                                   "is required: name the fields to change");
        }
        const absl::Time now = absl::Now();
        TenantDatabase::Session session(call.database.get());
        KeyAccountStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(v1::ScoringProfile profile,
                                LoadProfile(store, in.id(), now));
        static const std::set<std::string> kUpdatable = {
            "display_name",     "description",
            "weights",          "tier_a_min_score",
            "tier_b_min_score", "normalization",
            "window_months",    "customer_kinds",
            "clv_horizon_days", "clv_annual_discount_rate",
            "clv_margin"};
        std::vector<std::string> paths(request->update_mask().paths().begin(),
                                       request->update_mask().paths().end());
        if (paths.size() == 1 && paths[0] == "*") {
          paths.assign(kUpdatable.begin(), kUpdatable.end());
        }
        const auto* reflection = profile.GetReflection();
        for (const std::string& path : paths) {
          if (!kUpdatable.count(path)) {
            return InvalidFieldError(
                "update_mask",
                absl::StrCat("'", path, "' is not an updatable field"));
          }
          const auto* field = profile.GetDescriptor()->FindFieldByName(path);
          reflection->ClearField(&profile, field);
          if (field->is_repeated()) {
            for (int i = 0; i < reflection->FieldSize(in, field); ++i) {
              if (field->cpp_type() ==
                  google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
                reflection->AddMessage(&profile, field)
                    ->CopyFrom(reflection->GetRepeatedMessage(in, field, i));
              } else {
                reflection->AddEnumValue(
                    &profile, field,
                    reflection->GetRepeatedEnumValue(in, field, i));
              }
            }
          } else {
            switch (field->cpp_type()) {
              case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
                reflection->SetString(&profile, field,
                                      reflection->GetString(in, field));
                break;
              case google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE:
                reflection->SetDouble(&profile, field,
                                      reflection->GetDouble(in, field));
                break;
              case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
                reflection->SetInt32(&profile, field,
                                     reflection->GetInt32(in, field));
                break;
              case google::protobuf::FieldDescriptor::CPPTYPE_ENUM:
                reflection->SetEnumValue(&profile, field,
                                         reflection->GetEnumValue(in, field));
                break;
              default:
                break;
            }
          }
        }
        CUSTRA_RETURN_IF_ERROR(CheckProfileIdentity(profile));
        CUSTRA_RETURN_IF_ERROR(ProfileParams(profile).status());
        ToTimestamp(now, profile.mutable_update_time());
        CUSTRA_RETURN_IF_ERROR(
            store.PutProfile(profile.id(), profile.SerializeAsString()));
        *response->mutable_scoring_profile() = std::move(profile);
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::DeleteScoringProfile(
    grpc::ServerContext* context,
    const v1::DeleteScoringProfileRequest* request,
    v1::DeleteScoringProfileResponse* /*response*/) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->id().empty()) {
          return InvalidFieldError("id", "is required");
        }
        if (request->id() == kDefaultProfile) {
          return WithReason(absl::FailedPreconditionError(
                                "the default profile cannot be deleted; "
                                "update it instead"),
                            reason::kFailedPrecondition);
        }
        TenantDatabase::Session session(call.database.get());
        return KeyAccountStore(&session.db()).DeleteProfile(request->id());
      });
}

grpc::Status KeyAccountServiceImpl::SetAccountAssessments(
    grpc::ServerContext* context,
    const v1::SetAccountAssessmentsRequest* request,
    v1::SetAccountAssessmentsResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(std::vector<AccountAssessment> assessments,
                                AssessmentsFromProto(request->assessments()));
        std::vector<std::string> fields;
        for (const std::string& path : request->update_mask().paths()) {
          static const std::set<std::string> kFields = {
              "strategic_value", "cooperation", "estimated_total_wallet",
              "note", "assessed_by"};
          if (!kFields.count(path)) {
            return InvalidFieldError(
                "update_mask",
                absl::StrCat("'", path,
                             "' is not strategic_value, cooperation, "
                             "estimated_total_wallet, note or assessed_by"));
          }
          fields.push_back(path);
        }
        TenantDatabase::Session session(call.database.get());
        KeyAccountStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(
            std::vector<AccountAssessment> stored,
            store.SetAssessments(
                assessments, fields.empty() ? nullptr : &fields, absl::Now()));
        CUSTRA_ASSIGN_OR_RETURN(std::string currency, Currency(session.db()));
        for (const AccountAssessment& a : stored) {
          ToProto(a, currency, response->add_assessments());
        }
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::ListAccountAssessments(
    grpc::ServerContext* context,
    const v1::ListAccountAssessmentsRequest* request,
    v1::ListAccountAssessmentsResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(
            int page_size, PageSize(request->page_size(), 100, 1000, true));
        // Filter terms: customer_id="x", has_strategic_value,
        // has_cooperation, has_wallet.
        std::optional<std::string> only;
        bool need_strategic = false, need_cooperation = false,
             need_wallet = false;
        const absl::string_view filter =
            absl::StripAsciiWhitespace(request->filter());
        if (!filter.empty()) {
          for (absl::string_view term : absl::StrSplit(filter, " AND ")) {
            term = absl::StripAsciiWhitespace(term);
            if (absl::ConsumePrefix(&term, "customer_id")) {
              term = absl::StripLeadingAsciiWhitespace(term);
              if (!absl::ConsumePrefix(&term, "=")) {
                return InvalidFieldError("filter", "use customer_id=\"ID\"");
              }
              term = absl::StripAsciiWhitespace(term);
              absl::ConsumePrefix(&term, "\"");
              absl::ConsumeSuffix(&term, "\"");
              only = std::string(term);
            } else if (term == "has_strategic_value") {
              need_strategic = true;
            } else if (term == "has_cooperation") {
              need_cooperation = true;
            } else if (term == "has_wallet") {
              need_wallet = true;
            } else {
              return InvalidFieldError(
                  "filter",
                  absl::StrCat("unknown term '", term,
                               "'; use customer_id=\"ID\", "
                               "has_strategic_value, has_cooperation or "
                               "has_wallet"));
            }
          }
        }
        const std::string digest = Digest({request->filter()});
        std::string after;
        if (!request->page_token().empty()) {
          CUSTRA_ASSIGN_OR_RETURN(
              after,
              DecodePageToken("assessments", digest, request->page_token()));
        }
        TenantDatabase::Session session(call.database.get());
        KeyAccountStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(std::string currency, Currency(session.db()));
        // Filtering happens after reading; read until the page is full.
        std::string cursor = after;
        std::vector<AccountAssessment> page;
        bool more = false;
        while (true) {
          CUSTRA_ASSIGN_OR_RETURN(std::vector<AccountAssessment> batch,
                                  store.ListAssessments(cursor, 1000));
          for (AccountAssessment& a : batch) {
            if (only && a.customer_id != *only) continue;
            if (need_strategic && a.strategic_value == 0) continue;
            if (need_cooperation && a.cooperation == 0) continue;
            if (need_wallet && !a.wallet_micros) continue;
            if (static_cast<int>(page.size()) == page_size) {
              more = true;
              break;
            }
            page.push_back(std::move(a));
          }
          if (more || batch.size() < 1000) break;
          cursor = batch.back().customer_id;
        }
        for (const AccountAssessment& a : page) {
          ToProto(a, currency, response->add_assessments());
        }
        if (more) {
          response->set_next_page_token(
              EncodePageToken("assessments", digest, page.back().customer_id));
        }
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::ScoreAccounts(
    grpc::ServerContext* context, const v1::ScoreAccountsRequest* request,
    v1::ScoreAccountsResponse* response) {
  return gate_->ServeTenantCall(
      *context,
      [&](TenantCall& call) -> absl::Status {
        if (request->request_id().size() > 128) {
          return InvalidFieldError("request_id", "must be at most 128 bytes");
        }
        const std::string profile_id = request->profile_id().empty()
                                           ? kDefaultProfile
                                           : request->profile_id();
        int64_t as_of_day = Today();
        if (request->has_as_of_date()) {
          CUSTRA_ASSIGN_OR_RETURN(as_of_day,
                                  DayOf(request->as_of_date(), "as_of_date"));
        }
        const std::string fingerprint = Digest({request->SerializeAsString()});
        const absl::Time now = absl::Now();

        // Read everything under the session, score outside it.
        v1::ScoringProfile profile;
        CustomerHistory history;
        bool has_cost = false;
        absl::flat_hash_map<std::string, int64_t> referrals;
        absl::flat_hash_map<std::string, AccountAssessment> assessments;
        std::optional<LoadedModel> purchase_model, spend_model;
        std::string currency;
        {
          TenantDatabase::Session session(call.database.get());
          KeyAccountStore store(&session.db());
          if (!request->request_id().empty()) {
            CUSTRA_ASSIGN_OR_RETURN(
                std::optional<std::string> existing,
                store.FindRequest("scoring_run", request->request_id(),
                                  fingerprint));
            if (existing) {
              CUSTRA_ASSIGN_OR_RETURN(StoredItem item,
                                      store.GetScoringRun(*existing));
              CUSTRA_ASSIGN_OR_RETURN(*response->mutable_scoring_run(),
                                      ParseRun(item));
              return absl::OkStatus();
            }
          }
          CUSTRA_ASSIGN_OR_RETURN(profile, LoadProfile(store, profile_id, now));
          CUSTRA_ASSIGN_OR_RETURN(ScoringProfileParams params,
                                  ProfileParams(profile));
          if (NeedsPurchaseModel(params)) {
            CUSTRA_ASSIGN_OR_RETURN(
                purchase_model, ChooseModel(store, request->purchase_model_id(),
                                            true, "purchase_model_id"));
            if (!purchase_model) {
              return WithReason(
                  absl::FailedPreconditionError(absl::StrCat(
                      "profile ", profile_id,
                      " weights P(alive) or potential, which need a fitted "
                      "purchase-count model; fit one first (custra clv fit)")),
                  reason::kFailedPrecondition);
            }
          }
          if (NeedsSpendModel(params)) {
            CUSTRA_ASSIGN_OR_RETURN(
                spend_model, ChooseModel(store, request->spend_model_id(),
                                         false, "spend_model_id"));
            if (!spend_model) {
              return WithReason(
                  absl::FailedPreconditionError(absl::StrCat(
                      "profile ", profile_id,
                      " weights potential (predicted CLV), which needs a "
                      "fitted Gamma-Gamma model; fit one first (custra clv "
                      "fit --model gamma-gamma)")),
                  reason::kFailedPrecondition);
            }
          }
          CUSTRA_ASSIGN_OR_RETURN(
              history,
              store.LoadHistory(as_of_day, /*all_customers=*/true, {}));
          CUSTRA_ASSIGN_OR_RETURN(has_cost, store.HasCostData());
          const int64_t from_day = WindowStart(as_of_day, params.window_months);
          constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000000;
          CUSTRA_ASSIGN_OR_RETURN(
              referrals, store.ReferralCounts(from_day * kMicrosPerDay,
                                              (as_of_day + 1) * kMicrosPerDay));
          CUSTRA_ASSIGN_OR_RETURN(assessments, store.AllAssessments());
          CUSTRA_ASSIGN_OR_RETURN(currency, Currency(session.db()));
        }
        CUSTRA_ASSIGN_OR_RETURN(ScoringProfileParams params,
                                ProfileParams(profile));
        std::vector<size_t> index;
        TenantTotals totals;
        std::vector<AccountInput> inputs =
            ScoringInputs(history, as_of_day, params, has_cost, referrals,
                          assessments, &index, &totals);
        if (purchase_model) {
          ValueOptions options;
          const bool weeks =
              purchase_model->model.time_unit() == v1::TIME_UNIT_WEEK;
          options.horizon_periods =
              weeks ? std::max(1, params.clv_horizon_days / 7)
                    : params.clv_horizon_days;
          options.annual_discount_rate = params.clv_annual_discount_rate;
          options.margin = params.clv_margin;
          CUSTRA_ASSIGN_OR_RETURN(
              CustomerValues values,
              PredictValues(history, as_of_day, *purchase_model,
                            spend_model ? &*spend_model : nullptr, options));
          for (size_t k = 0; k < inputs.size(); ++k) {
            inputs[k].p_alive = values.p_alive[index[k]];
            inputs[k].clv_micros = values.clv_micros[index[k]];
          }
        }
        if (context->IsCancelled()) {
          return absl::CancelledError("the call was cancelled; nothing stored");
        }
        const ScoringResult result =
            custra::ScoreAccounts(inputs, params, &totals);

        v1::AccountScoringRun& run = *response->mutable_scoring_run();
        *run.mutable_profile() = profile;
        ToDate(as_of_day, run.mutable_as_of_date());
        if (purchase_model) run.set_purchase_model_id(purchase_model->item.id);
        if (spend_model) run.set_spend_model_id(spend_model->item.id);
        run.set_account_count(static_cast<int64_t>(result.scores.size()));
        run.set_tier_a_count(result.tier_a_count);
        run.set_tier_b_count(result.tier_b_count);
        run.set_tier_c_count(result.tier_c_count);
        run.set_mean_score(result.mean_score);
        run.set_median_score(result.median_score);
        for (ScoringCriterion c : result.unavailable_criteria) {
          run.add_unavailable_criteria(
              static_cast<v1::AccountScoringCriterion>(c));
        }
        ToTimestamp(now, run.mutable_create_time());
        std::vector<StoredScore> scores;
        scores.reserve(result.scores.size());
        for (const AccountScoreValue& s : result.scores) {
          scores.push_back({"", s.customer_id, s.score,
                            static_cast<int>(s.tier), s.rank,
                            EncodeCriteria(s)});
        }
        StoredItem item;
        item.profile_id = profile_id;
        item.as_of_day = as_of_day;
        item.time_us = absl::ToUnixMicros(now);
        item.record = run.SerializeAsString();
        TenantDatabase::Session session(call.database.get());
        CUSTRA_RETURN_IF_ERROR(KeyAccountStore(&session.db())
                                   .SaveScoringRun(item, scores,
                                                   request->request_id(),
                                                   fingerprint, now));
        run.set_id(item.id);
        return absl::OkStatus();
      },
      CallGate::Weight::kHeavy);
}

grpc::Status KeyAccountServiceImpl::GetAccountScoringRun(
    grpc::ServerContext* context,
    const v1::GetAccountScoringRunRequest* request,
    v1::GetAccountScoringRunResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->id().empty()) {
          return InvalidFieldError("id", "is required");
        }
        TenantDatabase::Session session(call.database.get());
        CUSTRA_ASSIGN_OR_RETURN(
            StoredItem item,
            KeyAccountStore(&session.db()).GetScoringRun(request->id()));
        CUSTRA_ASSIGN_OR_RETURN(*response->mutable_scoring_run(),
                                ParseRun(item));
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::ListAccountScoringRuns(
    grpc::ServerContext* context,
    const v1::ListAccountScoringRunsRequest* request,
    v1::ListAccountScoringRunsResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 50, 1000, true));
        std::string profile;
        absl::string_view filter =
            absl::StripAsciiWhitespace(request->filter());
        if (!filter.empty()) {
          if (!absl::ConsumePrefix(&filter, "profile_id")) {
            return InvalidFieldError("filter", "use profile_id=\"ID\"");
          }
          filter = absl::StripLeadingAsciiWhitespace(filter);
          if (!absl::ConsumePrefix(&filter, "=")) {
            return InvalidFieldError("filter", "use profile_id=\"ID\"");
          }
          filter = absl::StripAsciiWhitespace(filter);
          absl::ConsumePrefix(&filter, "\"");
          absl::ConsumeSuffix(&filter, "\"");
          profile = std::string(filter);
        }
        const std::string digest = Digest({request->filter()});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t before,
            DecodePageNumber("scoring_runs", digest, request->page_token()));
        TenantDatabase::Session session(call.database.get());
        CUSTRA_ASSIGN_OR_RETURN(
            std::vector<StoredItem> runs,
            KeyAccountStore(&session.db())
                .ListScoringRuns(profile, before, page_size + 1));
        const bool more = static_cast<int>(runs.size()) > page_size;
        if (more) runs.pop_back();
        for (const StoredItem& item : runs) {
          CUSTRA_ASSIGN_OR_RETURN(*response->add_scoring_runs(),
                                  ParseRun(item));
        }
        if (more) {
          response->set_next_page_token(EncodePageToken(
              "scoring_runs", digest, absl::StrCat(runs.back().seq)));
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* KeyAccountServiceImpl::GetAccountScore(
    grpc::CallbackServerContext* context,
    const v1::GetAccountScoreRequest* request,
    v1::GetAccountScoreResponse* response) {
  return gate_->ServeTenantRead(
      context, [this, request, response](TenantCall& call) -> absl::Status {
        if (request->customer_id().empty()) {
          return InvalidFieldError("customer_id", "is required");
        }
        TenantDatabase::ReadSession session(call.database.get());
        KeyAccountStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(StoredItem item,
                                RunOrNewest(store, request->scoring_run_id()));
        CUSTRA_ASSIGN_OR_RETURN(v1::AccountScoringRun run, ParseRun(item));
        CUSTRA_ASSIGN_OR_RETURN(
            StoredScore score, store.GetScore(item.id, request->customer_id()));
        CUSTRA_ASSIGN_OR_RETURN(auto customers,
                                CustomersOf(session.db(), {score}));
        CUSTRA_ASSIGN_OR_RETURN(std::string currency, Currency(session.db()));
        const auto c = customers.find(score.customer_id);
        FillScore(score, run, c == customers.end() ? nullptr : &c->second,
                  currency, true, response->mutable_account_score());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* KeyAccountServiceImpl::ListTopAccounts(
    grpc::CallbackServerContext* context,
    const v1::ListTopAccountsRequest* request,
    v1::ListTopAccountsResponse* response) {
  return gate_->ServeTenantRead(
      context, [this, request, response](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 20, 1000, true));
        std::vector<int> tiers;
        for (int i = 0; i < request->tiers_size(); ++i) {
          const int tier = request->tiers(i);
          if (tier < v1::ACCOUNT_TIER_A || tier > v1::ACCOUNT_TIER_C) {
            return InvalidFieldError(absl::StrCat("tiers[", i, "]"),
                                     "must be A, B or C");
          }
          tiers.push_back(tier);
        }
        TenantDatabase::ReadSession session(call.database.get());
        KeyAccountStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(StoredItem item,
                                RunOrNewest(store, request->scoring_run_id()));
        const std::string digest =
            Digest({item.id, absl::StrJoin(tiers, ","),
                    request->include_explanation() ? "1" : "0"});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t offset,
            DecodePageNumber("top", digest, request->page_token()));
        CUSTRA_ASSIGN_OR_RETURN(v1::AccountScoringRun run, ParseRun(item));
        CUSTRA_ASSIGN_OR_RETURN(
            auto page, store.TopScores(item.id, tiers, offset, page_size));
        CUSTRA_ASSIGN_OR_RETURN(auto customers,
                                CustomersOf(session.db(), page.first));
        CUSTRA_ASSIGN_OR_RETURN(std::string currency, Currency(session.db()));
        response->set_scoring_run_id(item.id);
        response->set_total_size(page.second);
        for (const StoredScore& s : page.first) {
          const auto c = customers.find(s.customer_id);
          FillScore(s, run, c == customers.end() ? nullptr : &c->second,
                    currency, request->include_explanation(),
                    response->add_account_scores());
        }
        const int64_t next = offset + static_cast<int64_t>(page.first.size());
        if (next < page.second) {
          response->set_next_page_token(
              EncodePageToken("top", digest, absl::StrCat(next)));
        }
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::ListAccountScoreHistory(
    grpc::ServerContext* context,
    const v1::ListAccountScoreHistoryRequest* request,
    v1::ListAccountScoreHistoryResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->customer_id().empty()) {
          return InvalidFieldError("customer_id", "is required");
        }
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 50, 1000, true));
        const std::string digest =
            Digest({request->customer_id(), request->profile_id(),
                    request->include_explanation() ? "1" : "0"});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t offset,
            DecodePageNumber("history", digest, request->page_token()));
        TenantDatabase::Session session(call.database.get());
        KeyAccountStore store(&session.db());
        CUSTRA_RETURN_IF_ERROR(IngestionStore(&session.db())
                                   .GetCustomer(request->customer_id())
                                   .status());
        CUSTRA_ASSIGN_OR_RETURN(
            auto history,
            store.ScoreHistory(request->customer_id(), request->profile_id(),
                               offset, page_size + 1));
        const bool more = static_cast<int>(history.size()) > page_size;
        if (more) history.pop_back();
        std::vector<StoredScore> scores;
        for (const auto& entry : history) scores.push_back(entry.second);
        CUSTRA_ASSIGN_OR_RETURN(auto customers,
                                CustomersOf(session.db(), scores));
        CUSTRA_ASSIGN_OR_RETURN(std::string currency, Currency(session.db()));
        for (const auto& [item, score] : history) {
          CUSTRA_ASSIGN_OR_RETURN(v1::AccountScoringRun run, ParseRun(item));
          const auto c = customers.find(score.customer_id);
          FillScore(score, run, c == customers.end() ? nullptr : &c->second,
                    currency, request->include_explanation(),
                    response->add_account_scores());
        }
        if (more) {
          response->set_next_page_token(EncodePageToken(
              "history", digest,
              absl::StrCat(offset + static_cast<int64_t>(history.size()))));
        }
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::CompareScorings(
    grpc::ServerContext* context, const v1::CompareScoringsRequest* request,
    v1::CompareScoringsResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->base_scoring_run_id().empty()) {
          return InvalidFieldError("base_scoring_run_id", "is required");
        }
        if (request->target_scoring_run_id().empty()) {
          return InvalidFieldError("target_scoring_run_id", "is required");
        }
        CUSTRA_ASSIGN_OR_RETURN(
            int page_size, PageSize(request->page_size(), 100, 1000, true));
        const std::string digest = Digest(
            {request->base_scoring_run_id(), request->target_scoring_run_id()});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t offset,
            DecodePageNumber("compare", digest, request->page_token()));
        std::vector<StoredScore> base, target;
        {
          TenantDatabase::Session session(call.database.get());
          KeyAccountStore store(&session.db());
          CUSTRA_RETURN_IF_ERROR(
              store.GetScoringRun(request->base_scoring_run_id()).status());
          CUSTRA_RETURN_IF_ERROR(
              store.GetScoringRun(request->target_scoring_run_id()).status());
          CUSTRA_ASSIGN_OR_RETURN(
              base, store.RunScores(request->base_scoring_run_id()));
          CUSTRA_ASSIGN_OR_RETURN(
              target, store.RunScores(request->target_scoring_run_id()));
        }
        auto scored = [](const std::vector<StoredScore>& scores) {
          std::vector<ScoredAccount> out;
          out.reserve(scores.size());
          for (const StoredScore& s : scores) {
            out.push_back(
                {s.customer_id, s.score, static_cast<AccountTierKind>(s.tier)});
          }
          return out;
        };
        const TierMigrationResult result =
            CompareTiers(scored(base), scored(target));
        for (const TierMigrationCell& cell : result.cells) {
          v1::AccountTierMigration* m = response->add_migrations();
          m->set_from_tier(static_cast<v1::AccountTier>(cell.from));
          m->set_to_tier(static_cast<v1::AccountTier>(cell.to));
          m->set_account_count(cell.count);
        }
        response->set_total_moves(static_cast<int64_t>(result.moves.size()));
        const int64_t end = std::min<int64_t>(
            offset + page_size, static_cast<int64_t>(result.moves.size()));
        for (int64_t i = offset; i < end; ++i) {
          const TierMove& move = result.moves[i];
          v1::AccountTierMove* out = response->add_moves();
          out->set_customer_id(move.customer_id);
          out->set_from_tier(static_cast<v1::AccountTier>(move.from));
          out->set_to_tier(static_cast<v1::AccountTier>(move.to));
          if (move.from_score) out->set_from_score(*move.from_score);
          if (move.to_score) out->set_to_score(*move.to_score);
        }
        if (end < static_cast<int64_t>(result.moves.size())) {
          response->set_next_page_token(
              EncodePageToken("compare", digest, absl::StrCat(end)));
        }
        return absl::OkStatus();
      });
}

}  // namespace custra::server
