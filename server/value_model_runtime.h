#ifndef CUSTRA_SERVER_VALUE_MODEL_RUNTIME_H_
#define CUSTRA_SERVER_VALUE_MODEL_RUNTIME_H_

// Using stored customer-value models: choosing them, and predicting P(alive)
// and CLV for the customers of a purchase history (shared by
// PredictCustomerValue and ScoreAccounts).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clv_models.h"
#include "common/key_account_store.h"
#include "custra/v1/key_account.pb.h"

namespace custra::server {

// The clv types of a stored model.
clv::CountModel CountModelOf(const v1::ValueModel& model);
clv::TimeUnit TimeUnitOf(const v1::ValueModel& model);
std::vector<double> ParamsOf(const v1::ValueModel& model);

// A stored model with its record parsed.
struct LoadedModel {
  StoredItem item;
  v1::ValueModel model;
};

// A stored model's record parsed, with its id; INTERNAL if unreadable.
absl::StatusOr<LoadedModel> ParseModel(StoredItem item);

// The named model (NOT_FOUND if unknown; INVALID_ARGUMENT naming `field` if
// it is not of the wanted family), or the newest converged one of the
// family; nullopt when none exists and none was named.
absl::StatusOr<std::optional<LoadedModel>> ChooseModel(KeyAccountStore& store,
                                                       absl::string_view id,
                                                       bool purchase_family,
                                                       absl::string_view field);

// Per customer of `history` (index-aligned): P(alive) and CLV as of the end
// of `as_of_day`. CLV needs the spend model and is unset without it.
struct CustomerValues {
  std::vector<std::optional<double>> p_alive;
  std::vector<std::optional<double>> expected_purchases;
  std::vector<std::optional<double>> expected_spend;  // Currency units.
  std::vector<bool> spend_is_population_mean;
  std::vector<std::optional<int64_t>> clv_micros;
  // Summaries as of the prediction date.
  std::vector<double> frequency, recency, age;
  std::vector<std::optional<double>> monetary;  // Currency units.
};
struct ValueOptions {
  int horizon_periods = 52;
  double annual_discount_rate = 0;
  double margin = 1;
};
absl::StatusOr<CustomerValues> PredictValues(const CustomerHistory& history,
                                             int64_t as_of_day,
                                             const LoadedModel& purchase_model,
                                             const LoadedModel* spend_model,
                                             const ValueOptions& options);

}  // namespace custra::server

#endif  // CUSTRA_SERVER_VALUE_MODEL_RUNTIME_H_
