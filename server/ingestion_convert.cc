#include "server/ingestion_convert.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "server/proto_convert.h"

namespace custra::server {
namespace {

std::optional<absl::Time> TimeOf(bool has,
                                 const google::protobuf::Timestamp& ts) {
  if (!has) return std::nullopt;
  return FromTimestamp(ts);
}

MoneyValue FromProto(const v1::Money& in) {
  return MoneyValue{in.currency_code(), in.amount_micros()};
}

void ToProto(const MoneyValue& in, absl::string_view tenant_currency,
             v1::Money* out) {
  out->set_currency_code(in.currency.empty() ? std::string(tenant_currency)
                                             : in.currency);
  out->set_amount_micros(in.micros);
}

std::string DateText(const v1::Date& d) {
  if (d.year() == 0 && d.month() == 0 && d.day() == 0) return "";
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

}  // namespace

TransactionRow FromProto(const v1::Transaction& in) {
  TransactionRow row;
  row.id = in.id();
  row.customer_id = in.customer_id();
  row.time = TimeOf(in.has_time(), in.time());
  if (in.has_amount()) row.amount = FromProto(in.amount());
  if (in.has_cost()) row.cost = FromProto(in.cost());
  if (in.cost_basis_case() == v1::Transaction::kMargin)
    row.margin = in.margin();
  row.quantity = in.quantity();
  row.order_id = in.order_id();
  row.product = in.product();
  row.category = in.category();
  row.channel = in.channel();
  return row;
}

InteractionRow FromProto(const v1::Interaction& in) {
  InteractionRow row;
  row.id = in.id();
  row.customer_id = in.customer_id();
  row.kind = in.kind();
  row.time = TimeOf(in.has_time(), in.time());
  row.contact = in.contact();
  row.channel = in.channel();
  row.notes = in.notes();
  if (in.has_satisfaction_score()) row.satisfaction = in.satisfaction_score();
  if (in.has_nps_score()) row.nps = in.nps_score();
  row.referred_customer_id = in.referred_customer_id();
  return row;
}

CustomerRecord FromProto(const v1::Customer& in) {
  CustomerRecord c;
  c.id = in.id();
  c.kind = in.kind();
  c.display_name = in.display_name();
  c.industry = in.industry();
  c.region = in.region();
  c.size = in.size();
  c.acquisition_channel = in.acquisition_channel();
  if (in.has_acquisition_date()) {
    c.acquisition_date = DateText(in.acquisition_date());
    if (c.acquisition_date.empty()) c.acquisition_date = "0000-00-00";
  }
  c.tags.assign(in.tags().begin(), in.tags().end());
  c.man_money = in.man_assessment().money();
  c.man_authority = in.man_assessment().authority();
  c.man_need = in.man_assessment().need();
  if (in.has_annual_budget()) c.annual_budget = FromProto(in.annual_budget());
  if (in.has_annual_wallet()) c.annual_wallet = FromProto(in.annual_wallet());
  for (const auto& [k, v] : in.attributes()) c.attributes[k] = v;
  return c;
}

void ToProto(const CustomerRecord& in, absl::string_view tenant_currency,
             v1::Customer* out) {
  out->set_id(in.id);
  out->set_kind(static_cast<v1::CustomerKind>(in.kind));
  out->set_display_name(in.display_name);
  out->set_industry(in.industry);
  out->set_region(in.region);
  out->set_size(static_cast<v1::CustomerSize>(in.size));
  out->set_acquisition_channel(in.acquisition_channel);
  if (in.acquisition_date.size() == 10) {
    auto* d = out->mutable_acquisition_date();
    d->set_year(std::stoi(in.acquisition_date.substr(0, 4)));
    d->set_month(std::stoi(in.acquisition_date.substr(5, 2)));
    d->set_day(std::stoi(in.acquisition_date.substr(8, 2)));
  }
  for (const std::string& tag : in.tags) out->add_tags(tag);
  if (in.man_money || in.man_authority || in.man_need) {
    auto* man = out->mutable_man_assessment();
    man->set_money(static_cast<v1::ManLevel>(in.man_money));
    man->set_authority(static_cast<v1::ManLevel>(in.man_authority));
    man->set_need(static_cast<v1::ManLevel>(in.man_need));
  }
  if (in.annual_budget)
    ToProto(*in.annual_budget, "", out->mutable_annual_budget());
  if (in.annual_wallet)
    ToProto(*in.annual_wallet, "", out->mutable_annual_wallet());
  for (const auto& [k, v] : in.attributes) (*out->mutable_attributes())[k] = v;
  auto* stats = out->mutable_purchase_stats();
  if (in.stats.first_purchase) {
    ToTimestamp(*in.stats.first_purchase, stats->mutable_first_purchase_time());
  }
  if (in.stats.last_purchase) {
    ToTimestamp(*in.stats.last_purchase, stats->mutable_last_purchase_time());
  }
  stats->set_order_count(in.stats.order_count);
  stats->set_purchase_day_count(in.stats.purchase_day_count);
  stats->set_transaction_count(in.stats.transaction_count);
  ToProto(MoneyValue{"", in.stats.revenue_micros}, tenant_currency,
          stats->mutable_revenue());
  ToProto(MoneyValue{"", in.stats.returns_micros}, tenant_currency,
          stats->mutable_returns());
  ToProto(MoneyValue{"", in.stats.profit_micros}, tenant_currency,
          stats->mutable_profit());
  ToTimestamp(in.create_time, out->mutable_create_time());
  ToTimestamp(in.update_time, out->mutable_update_time());
}

void ToProto(const InteractionRow& in, v1::Interaction* out) {
  out->set_id(in.id);
  out->set_customer_id(in.customer_id);
  out->set_kind(static_cast<v1::InteractionKind>(in.kind));
  if (in.time) ToTimestamp(*in.time, out->mutable_time());
  out->set_contact(in.contact);
  out->set_channel(in.channel);
  out->set_notes(in.notes);
  if (in.satisfaction) out->set_satisfaction_score(*in.satisfaction);
  if (in.nps) out->set_nps_score(*in.nps);
  out->set_referred_customer_id(in.referred_customer_id);
}

namespace {
void ToProto(const RowError& in, v1::IngestionRowError* out) {
  out->set_row_index(in.row_index);
  out->set_row_id(in.row_id);
  out->set_field(in.field);
  out->set_reason(static_cast<v1::IngestionRejectReason>(in.reason));
  out->set_description(in.description);
}
}  // namespace

void ToProto(const IngestResult& in, v1::IngestionBatchResult* out) {
  out->set_accepted_count(in.accepted);
  out->set_duplicate_count(in.duplicates);
  out->set_rejected_count(in.rejected);
  out->set_customers_created_count(in.customers_created);
  out->set_replayed(in.replayed);
  for (const RowError& e : in.rejections) ToProto(e, out->add_rejections());
}

void ToProto(const CustomerBatchResult& in, v1::CustomerBatchResult* out) {
  out->set_created_count(in.created);
  out->set_updated_count(in.updated);
  out->set_unchanged_count(in.unchanged);
  out->set_rejected_count(in.rejected);
  out->set_replayed(in.replayed);
  for (const CustomerWriteResult& w : in.results) {
    auto* r = out->add_results();
    r->set_row_index(w.row_index);
    r->set_customer_id(w.customer_id);
    r->set_outcome(static_cast<v1::CustomerWriteOutcome>(w.outcome));
    if (w.rejection) ToProto(*w.rejection, r->mutable_rejection());
  }
}

absl::StatusOr<std::optional<std::set<std::string>>> CustomerMask(
    const google::protobuf::FieldMask& mask) {
  if (mask.paths().empty()) return std::nullopt;
  static const std::set<std::string> kWritable = {"kind",
                                                  "display_name",
                                                  "industry",
                                                  "region",
                                                  "size",
                                                  "acquisition_channel",
                                                  "acquisition_date",
                                                  "tags",
                                                  "man_assessment",
                                                  "annual_budget",
                                                  "annual_wallet",
                                                  "attributes"};
  std::set<std::string> paths;
  for (const std::string& path : mask.paths()) {
    if (!kWritable.contains(path)) {
      return InvalidFieldError(
          "update_mask",
          absl::StrCat("'", path, "' is not a writable customer field"));
    }
    paths.insert(path);
  }
  return paths;
}

}  // namespace custra::server
