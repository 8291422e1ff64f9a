#include "common/ingestion_validation.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace custra {
namespace {

RowError Error(absl::string_view id, absl::string_view field,
               RejectReason reason, std::string description) {
  return RowError{0, std::string(id), std::string(field), reason,
                  std::move(description)};
}

std::optional<RowError> CheckId(absl::string_view row_id,
                                absl::string_view field,
                                absl::string_view value) {
  if (value.empty()) {
    return Error(row_id, field, RejectReason::kMissingField, "is required");
  }
  if (value.size() > kMaxIdBytes) {
    return Error(row_id, field, RejectReason::kTooLong,
                 absl::StrCat("is ", value.size(), " bytes; at most ",
                              kMaxIdBytes, " allowed"));
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return Error(row_id, field, RejectReason::kInvalidValue,
                   "must not contain control characters");
    }
  }
  return std::nullopt;
}

std::optional<RowError> CheckLabel(absl::string_view row_id,
                                   absl::string_view field,
                                   absl::string_view value,
                                   size_t max = kMaxLabelBytes) {
  if (value.size() > max) {
    return Error(
        row_id, field, RejectReason::kTooLong,
        absl::StrCat("is ", value.size(), " bytes; at most ", max, " allowed"));
  }
  return std::nullopt;
}

std::optional<RowError> CheckTime(absl::string_view row_id,
                                  absl::string_view field,
                                  const std::optional<absl::Time>& time,
                                  absl::Time now) {
  if (!time) {
    return Error(row_id, field, RejectReason::kMissingField, "is required");
  }
  if (*time < EarliestEventTime() || *time > now + kMaxFutureSkew) {
    return Error(row_id, field, RejectReason::kOutOfRange,
                 absl::StrCat("is ", absl::FormatTime(*time),
                              "; must be between 1900-01-01 and 24 hours "
                              "from now"));
  }
  return std::nullopt;
}

std::optional<RowError> CheckMoney(absl::string_view row_id,
                                   absl::string_view field,
                                   const MoneyValue& money,
                                   absl::string_view tenant_currency) {
  if (!IsValidCurrencyCode(money.currency)) {
    return Error(row_id, absl::StrCat(field, ".currency_code"),
                 RejectReason::kInvalidValue,
                 absl::StrCat("'", absl::CHexEscape(money.currency),
                              "' is not an ISO 4217 code (three upper-case "
                              "letters)"));
  }
  if (money.micros > kMaxAmountMicros || money.micros < -kMaxAmountMicros) {
    return Error(row_id, absl::StrCat(field, ".amount_micros"),
                 RejectReason::kOutOfRange,
                 "must be at most one billion currency units either way");
  }
  if (!money.currency.empty() && !tenant_currency.empty() &&
      money.currency != tenant_currency) {
    return Error(
        row_id, absl::StrCat(field, ".currency_code"),
        RejectReason::kCurrencyMismatch,
        absl::StrCat("is ", money.currency,
                     " but the tenant's "
                     "currency is ",
                     tenant_currency, "; custra does not convert currencies"));
  }
  return std::nullopt;
}

}  // namespace

absl::Time EarliestEventTime() {
  return absl::FromCivil(absl::CivilDay(1900, 1, 1), absl::UTCTimeZone());
}

bool IsValidCurrencyCode(absl::string_view code) {
  if (code.empty()) return true;
  if (code.size() != 3) return false;
  for (char c : code) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

bool IsValidIsoDate(absl::string_view date) {
  if (date.empty()) return true;
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return false;
  int year, month, day;
  if (!absl::SimpleAtoi(date.substr(0, 4), &year) ||
      !absl::SimpleAtoi(date.substr(5, 2), &month) ||
      !absl::SimpleAtoi(date.substr(8, 2), &day)) {
    return false;
  }
  for (char c : date) {
    if (c != '-' && !absl::ascii_isdigit(c)) return false;
  }
  const absl::CivilDay civil(year, month, day);
  return year >= 1 && civil.year() == year && civil.month() == month &&
         civil.day() == day;
}

std::optional<RowError> ValidateTransaction(const TransactionRow& row,
                                            absl::string_view tenant_currency,
                                            absl::Time now) {
  if (auto e = CheckId(row.id, "id", row.id)) return e;
  if (auto e = CheckId(row.id, "customer_id", row.customer_id)) return e;
  if (auto e = CheckTime(row.id, "time", row.time, now)) return e;
  if (!row.amount) {
    return Error(row.id, "amount", RejectReason::kMissingField, "is required");
  }
  if (auto e = CheckMoney(row.id, "amount", *row.amount, tenant_currency)) {
    return e;
  }
  if (row.cost) {
    if (auto e = CheckMoney(row.id, "cost", *row.cost, tenant_currency)) {
      return e;
    }
    if (row.cost->currency != row.amount->currency) {
      return Error(row.id, "cost.currency_code",
                   RejectReason::kCurrencyMismatch,
                   "must be the amount's currency");
    }
  }
  if (row.margin &&
      (!std::isfinite(*row.margin) || *row.margin < -10 || *row.margin > 1)) {
    return Error(row.id, "margin", RejectReason::kOutOfRange,
                 "must be a finite share of the amount, at most 1");
  }
  if (!std::isfinite(row.quantity)) {
    return Error(row.id, "quantity", RejectReason::kInvalidValue,
                 "must be a finite number");
  }
  if (auto e = CheckLabel(row.id, "order_id", row.order_id)) return e;
  if (auto e = CheckLabel(row.id, "product", row.product)) return e;
  if (auto e = CheckLabel(row.id, "category", row.category)) return e;
  if (auto e = CheckLabel(row.id, "channel", row.channel)) return e;
  return std::nullopt;
}

std::optional<RowError> ValidateInteraction(const InteractionRow& row,
                                            absl::Time now) {
  if (auto e = CheckId(row.id, "id", row.id)) return e;
  if (auto e = CheckId(row.id, "customer_id", row.customer_id)) return e;
  if (row.kind < 1 || row.kind > 7) {
    return Error(row.id, "kind", RejectReason::kInvalidValue,
                 "must be one of VISIT, CALL, MEETING, SURVEY, COMPLAINT, "
                 "REFERRAL, OTHER");
  }
  if (auto e = CheckTime(row.id, "time", row.time, now)) return e;
  if (auto e = CheckLabel(row.id, "contact", row.contact)) return e;
  if (auto e = CheckLabel(row.id, "channel", row.channel)) return e;
  if (auto e = CheckLabel(row.id, "notes", row.notes, kMaxNotesBytes)) {
    return e;
  }
  if (row.satisfaction && (!std::isfinite(*row.satisfaction) ||
                           *row.satisfaction < 1 || *row.satisfaction > 5)) {
    return Error(row.id, "satisfaction_score", RejectReason::kOutOfRange,
                 "must be between 1 and 5");
  }
  if (row.nps && (*row.nps < 0 || *row.nps > 10)) {
    return Error(row.id, "nps_score", RejectReason::kOutOfRange,
                 "must be between 0 and 10");
  }
  if (!row.referred_customer_id.empty()) {
    if (auto e =
            CheckId(row.id, "referred_customer_id", row.referred_customer_id)) {
      return e;
    }
  }
  return std::nullopt;
}

std::optional<RowError> ValidateCustomer(const CustomerRecord& c,
                                         absl::string_view tenant_currency) {
  if (auto e = CheckId(c.id, "id", c.id)) return e;
  if (c.kind < 0 || c.kind > 3) {
    return Error(c.id, "kind", RejectReason::kInvalidValue,
                 "must be INDIVIDUAL, ENTERPRISE or GOVERNMENT");
  }
  if (c.size < 0 || c.size > 4) {
    return Error(c.id, "size", RejectReason::kInvalidValue,
                 "must be MICRO, SMALL, MEDIUM or LARGE");
  }
  for (int level : {c.man_money, c.man_authority, c.man_need}) {
    if (level < 0 || level > 2) {
      return Error(c.id, "man_assessment", RejectReason::kInvalidValue,
                   "levels must be HIGH or LOW");
    }
  }
  if (auto e = CheckLabel(c.id, "display_name", c.display_name, 256)) return e;
  if (auto e = CheckLabel(c.id, "industry", c.industry)) return e;
  if (auto e = CheckLabel(c.id, "region", c.region)) return e;
  if (auto e = CheckLabel(c.id, "acquisition_channel", c.acquisition_channel)) {
    return e;
  }
  if (!IsValidIsoDate(c.acquisition_date)) {
    return Error(c.id, "acquisition_date", RejectReason::kInvalidValue,
                 "is not a valid calendar date");
  }
  if (c.tags.size() > kMaxTags) {
    return Error(c.id, "tags", RejectReason::kTooLong, "at most 64 tags");
  }
  for (const std::string& tag : c.tags) {
    if (tag.empty()) {
      return Error(c.id, "tags", RejectReason::kInvalidValue,
                   "must not contain an empty tag");
    }
    if (auto e = CheckLabel(c.id, "tags", tag)) return e;
  }
  if (c.attributes.size() > kMaxAttributes) {
    return Error(c.id, "attributes", RejectReason::kTooLong,
                 "at most 64 attributes");
  }
  for (const auto& [key, value] : c.attributes) {
    if (key.empty()) {
      return Error(c.id, "attributes", RejectReason::kInvalidValue,
                   "keys must not be empty");
    }
    if (auto e = CheckLabel(c.id, "attributes", key)) return e;
    if (auto e = CheckLabel(c.id, "attributes", value, 1024)) return e;
  }
  if (c.annual_budget) {
    if (auto e = CheckMoney(c.id, "annual_budget", *c.annual_budget,
                            tenant_currency)) {
      return e;
    }
  }
  if (c.annual_wallet) {
    if (auto e = CheckMoney(c.id, "annual_wallet", *c.annual_wallet,
                            tenant_currency)) {
      return e;
    }
  }
  return std::nullopt;
}

}  // namespace custra
