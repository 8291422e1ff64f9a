// libFuzzer target: the CSV reader and the generic CSV converters
// (transactions, customers, interactions). The first byte picks the
// converter; the rest is a CSV file whose first record is the header.

#include <cstddef>
#include <cstdint>
#include <string>

#include "client/cli/import_formats.h"

namespace {

template <typename Row>
void ConvertAll(custra::cli::RowConverter<Row>& converter,
                const std::vector<custra::cli::Record>& records) {
  if (records.empty() || !converter.SetHeader(records[0].fields).ok()) return;
  for (size_t i = 1; i < records.size(); ++i) {
    auto row = converter.Convert(records[i]);
    (void)row;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto records = custra::cli::RecordReader::ParseCsv(text);
  if (!records.ok()) return 0;
  switch (selector % 3) {
    case 0: {
      auto converter = custra::cli::NewCsvTransactionConverter(
          {{"amount", "Total"}}, selector & 4 ? "%d/%m/%Y" : "", "EUR");
      ConvertAll(*converter, *records);
      break;
    }
    case 1: {
      auto converter = custra::cli::NewCsvCustomerConverter({});
      ConvertAll(*converter, *records);
      break;
    }
    default: {
      auto converter = custra::cli::NewCsvInteractionConverter({}, "");
      ConvertAll(*converter, *records);
      break;
    }
  }
  return 0;
}
