// libFuzzer target: row validation of transactions, interactions and
// customers, the customer filter parser, and the decimal / time parsers.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "client/cli/import_formats.h"
#include "common/ingestion_store.h"
#include "common/ingestion_validation.h"

namespace {

custra::MoneyValue Money(FuzzedDataProvider& in) {
  return custra::MoneyValue{in.ConsumeRandomLengthString(5),
                            in.ConsumeIntegral<int64_t>()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const absl::Time now = absl::FromUnixSeconds(1700000000);

  custra::TransactionRow t;
  t.id = in.ConsumeRandomLengthString(200);
  t.customer_id = in.ConsumeRandomLengthString(200);
  if (in.ConsumeBool()) {
    t.time = absl::FromUnixMicros(in.ConsumeIntegral<int64_t>() / 4);
  }
  if (in.ConsumeBool()) t.amount = Money(in);
  if (in.ConsumeBool()) t.cost = Money(in);
  if (in.ConsumeBool()) t.margin = in.ConsumeFloatingPoint<double>();
  t.quantity = in.ConsumeFloatingPoint<double>();
  t.order_id = in.ConsumeRandomLengthString(200);
  (void)custra::ValidateTransaction(t, in.ConsumeRandomLengthString(4), now);

  custra::InteractionRow i;
  i.id = in.ConsumeRandomLengthString(200);
  i.customer_id = in.ConsumeRandomLengthString(200);
  i.kind = in.ConsumeIntegral<int>();
  if (in.ConsumeBool()) {
    i.time = absl::FromUnixMicros(in.ConsumeIntegral<int64_t>() / 4);
  }
  if (in.ConsumeBool()) i.satisfaction = in.ConsumeFloatingPoint<double>();
  if (in.ConsumeBool()) i.nps = in.ConsumeIntegral<int>();
  (void)custra::ValidateInteraction(i, now);

  custra::CustomerRecord c;
  c.id = in.ConsumeRandomLengthString(200);
  c.kind = in.ConsumeIntegral<int>();
  c.size = in.ConsumeIntegral<int>();
  c.man_money = in.ConsumeIntegral<int>();
  c.acquisition_date = in.ConsumeRandomLengthString(12);
  for (int n = in.ConsumeIntegralInRange(0, 70); n > 0; --n) {
    c.tags.push_back(in.ConsumeRandomLengthString(20));
  }
  if (in.ConsumeBool()) c.annual_wallet = Money(in);
  (void)custra::ValidateCustomer(c, in.ConsumeRandomLengthString(4));

  (void)custra::ParseCustomerFilter(in.ConsumeRandomLengthString(100));
  (void)custra::ParseInteractionFilter(in.ConsumeRandomLengthString(100));
  (void)custra::cli::ParseDecimalMicros(in.ConsumeRandomLengthString(30));
  (void)custra::cli::ParseTime(in.ConsumeRandomLengthString(30),
                               in.ConsumeBool() ? "" : "%Y-%m-%d");
  return 0;
}
