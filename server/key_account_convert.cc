#include "server/key_account_convert.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"

namespace custra::server {
namespace {

constexpr size_t kMaxDisplayName = 200;
constexpr size_t kMaxDescription = 2000;

}  // namespace

v1::ScoringProfile DefaultProfileProto() {
  const ScoringProfileParams params = DefaultScoringProfile();
  v1::ScoringProfile profile;
  profile.set_id("default");
  profile.set_display_name("Default key-account profile");
  profile.set_description(
      "Revenue and profit contribution, growth, potential (predicted CLV), "
      "loyalty, strategic value, cooperation, referrals and share of wallet, "
      "as custra ships it.");
  for (const CriterionWeightEntry& w : WeightsToList(params.weights)) {
    v1::AccountCriterionWeight* out = profile.add_weights();
    out->set_criterion(static_cast<v1::AccountScoringCriterion>(w.criterion));
    out->set_weight(w.weight);
  }
  profile.set_tier_a_min_score(params.tier_a_min_score);
  profile.set_tier_b_min_score(params.tier_b_min_score);
  profile.set_normalization(v1::ACCOUNT_SCORE_NORMALIZATION_PERCENTILE_RANK);
  profile.set_window_months(params.window_months);
  profile.set_clv_horizon_days(params.clv_horizon_days);
  profile.set_clv_annual_discount_rate(params.clv_annual_discount_rate);
  profile.set_clv_margin(params.clv_margin);
  return profile;
}

void FillProfileDefaults(v1::ScoringProfile& profile) {
  if (profile.window_months() == 0) profile.set_window_months(12);
  if (profile.clv_horizon_days() == 0) profile.set_clv_horizon_days(365);
  if (profile.clv_margin() == 0) profile.set_clv_margin(1);
  if (profile.normalization() == v1::ACCOUNT_SCORE_NORMALIZATION_UNSPECIFIED) {
    profile.set_normalization(v1::ACCOUNT_SCORE_NORMALIZATION_PERCENTILE_RANK);
  }
}

absl::StatusOr<ScoringProfileParams> ProfileParams(
    const v1::ScoringProfile& profile) {
  ScoringProfileParams params;
  std::vector<CriterionWeightEntry> weights;
  for (const v1::AccountCriterionWeight& w : profile.weights()) {
    weights.push_back({w.criterion(), w.weight()});
  }
  CUSTRA_ASSIGN_OR_RETURN(params.weights, WeightsFromList(weights));
  params.tier_a_min_score = profile.tier_a_min_score();
  params.tier_b_min_score = profile.tier_b_min_score();
  switch (profile.normalization()) {
    case v1::ACCOUNT_SCORE_NORMALIZATION_UNSPECIFIED:
    case v1::ACCOUNT_SCORE_NORMALIZATION_PERCENTILE_RANK:
      params.normalization = ScoreNormalization::kPercentileRank;
      break;
    case v1::ACCOUNT_SCORE_NORMALIZATION_MIN_MAX:
      params.normalization = ScoreNormalization::kMinMax;
      break;
    default:
      return InvalidFieldError("scoring_profile.normalization",
                               "is not an AccountScoreNormalization");
  }
  params.window_months = profile.window_months();
  params.customer_kinds.assign(profile.customer_kinds().begin(),
                               profile.customer_kinds().end());
  params.clv_horizon_days = profile.clv_horizon_days();
  params.clv_annual_discount_rate = profile.clv_annual_discount_rate();
  params.clv_margin = profile.clv_margin();
  CUSTRA_RETURN_IF_ERROR(ValidateScoringProfile(params));
  return params;
}

absl::Status CheckProfileIdentity(const v1::ScoringProfile& profile) {
  if (!IsValidTenantId(profile.id())) {
    return InvalidFieldError("scoring_profile.id",
                             "must match ^[a-z][a-z0-9-]{2,62}$");
  }
  if (profile.display_name().size() > kMaxDisplayName) {
    return InvalidFieldError("scoring_profile.display_name",
                             "must be at most 200 characters");
  }
  if (profile.description().size() > kMaxDescription) {
    return InvalidFieldError("scoring_profile.description",
                             "must be at most 2000 characters");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AccountAssessment>> AssessmentsFromProto(
    const google::protobuf::RepeatedPtrField<v1::KeyAccountAssessment>& in) {
  if (in.empty() || in.size() > 10000) {
    return InvalidFieldError("assessments", "must hold 1 to 10,000 entries");
  }
  std::vector<AccountAssessment> out;
  std::set<std::string> seen;
  for (int i = 0; i < in.size(); ++i) {
    const v1::KeyAccountAssessment& a = in[i];
    const std::string field = absl::StrCat("assessments[", i, "]");
    if (a.customer_id().empty()) {
      return InvalidFieldError(field + ".customer_id", "is required");
    }
    if (!seen.insert(a.customer_id()).second) {
      return InvalidFieldError(field + ".customer_id",
                               "appears more than once in the batch");
    }
    for (const auto& [value, name] :
         {std::pair{a.strategic_value(), "strategic_value"},
          std::pair{a.cooperation(), "cooperation"}}) {
      if (value < 0 || value > 5) {
        return InvalidFieldError(
            absl::StrCat(field, ".", name),
            absl::StrCat("is ", value, "; must be 1 to 5, or 0 for none"));
      }
    }
    if (a.has_estimated_total_wallet() &&
        a.estimated_total_wallet().amount_micros() <= 0) {
      return InvalidFieldError(field + ".estimated_total_wallet",
                               "must be positive (unset it for no estimate)");
    }
    if (a.note().size() > kMaxDescription) {
      return InvalidFieldError(field + ".note",
                               "must be at most 2000 characters");
    }
    if (a.assessed_by().size() > kMaxDisplayName) {
      return InvalidFieldError(field + ".assessed_by",
                               "must be at most 200 characters");
    }
    AccountAssessment& o = out.emplace_back();
    o.customer_id = a.customer_id();
    o.strategic_value = a.strategic_value();
    o.cooperation = a.cooperation();
    if (a.has_estimated_total_wallet()) {
      o.wallet_micros = a.estimated_total_wallet().amount_micros();
    }
    o.note = a.note();
    o.assessed_by = a.assessed_by();
  }
  return out;
}

void ToProto(const AccountAssessment& in, absl::string_view currency,
             v1::KeyAccountAssessment* out) {
  out->set_customer_id(in.customer_id);
  out->set_strategic_value(in.strategic_value);
  out->set_cooperation(in.cooperation);
  if (in.wallet_micros) {
    out->mutable_estimated_total_wallet()->set_currency_code(
        std::string(currency));
    out->mutable_estimated_total_wallet()->set_amount_micros(*in.wallet_micros);
  }
  out->set_note(in.note);
  out->set_assessed_by(in.assessed_by);
  out->mutable_update_time()->set_seconds(in.update_time_us / 1000000);
  out->mutable_update_time()->set_nanos(
      static_cast<int32_t>(in.update_time_us % 1000000) * 1000);
}

std::string EncodeCriteria(const AccountScoreValue& score) {
  v1::AccountScore proto;
  for (const CriterionScore& c : score.criteria) {
    v1::AccountScoreCriterion* out = proto.add_criteria();
    out->set_criterion(static_cast<v1::AccountScoringCriterion>(c.criterion));
    out->set_available(c.available);
    out->set_raw_value(c.raw_value);
    if (c.raw_money) out->mutable_raw_money()->set_amount_micros(*c.raw_money);
    out->set_normalized_value(c.normalized);
    out->set_weight(c.weight);
    out->set_contribution(c.contribution);
  }
  return proto.SerializeAsString();
}

void DecodeCriteria(const std::string& detail, absl::string_view currency,
                    v1::AccountScore* out) {
  v1::AccountScore stored;
  if (!stored.ParseFromString(detail)) return;
  for (v1::AccountScoreCriterion& c : *stored.mutable_criteria()) {
    if (c.has_raw_money()) {
      c.mutable_raw_money()->set_currency_code(std::string(currency));
    }
    *out->add_criteria() = std::move(c);
  }
}

}  // namespace custra::server
