#ifndef CUSTRA_SERVER_KEY_ACCOUNT_CONVERT_H_
#define CUSTRA_SERVER_KEY_ACCOUNT_CONVERT_H_

// Conversions between custra.v1 key-account messages and the plain structs
// of common/account_scoring.h and common/key_account_store.h.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/account_scoring.h"
#include "common/key_account_store.h"
#include "custra/v1/key_account.pb.h"

namespace custra::server {

// The built-in "default" profile as stored (without times).
v1::ScoringProfile DefaultProfileProto();

// Fills the create-time defaults of a profile (window 12 months, CLV 365
// days, margin 1, percentile rank) in place.
void FillProfileDefaults(v1::ScoringProfile& profile);

// The model parameters of a stored or requested profile, checked; field
// paths start with "scoring_profile.".
absl::StatusOr<ScoringProfileParams> ProfileParams(
    const v1::ScoringProfile& profile);

// Checks a profile's id and texts (field paths "scoring_profile.id", ...).
absl::Status CheckProfileIdentity(const v1::ScoringProfile& profile);

// Assessments from the wire, checked (field paths "assessments[i]....").
absl::StatusOr<std::vector<AccountAssessment>> AssessmentsFromProto(
    const google::protobuf::RepeatedPtrField<v1::KeyAccountAssessment>& in);
void ToProto(const AccountAssessment& in, absl::string_view currency,
             v1::KeyAccountAssessment* out);

// The stored explanation of one account's score and back.
std::string EncodeCriteria(const AccountScoreValue& score);
void DecodeCriteria(const std::string& detail, absl::string_view currency,
                    v1::AccountScore* out);

}  // namespace custra::server

#endif  // CUSTRA_SERVER_KEY_ACCOUNT_CONVERT_H_
