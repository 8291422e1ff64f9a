// libFuzzer target: the known import formats, CDNOW (whitespace columns)
// and UCI Online Retail (CSV). The first byte picks the format.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_split.h"
#include "client/cli/import_formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    auto converter = custra::cli::NewCdnowConverter();
    int64_t line = 0;
    for (absl::string_view l : absl::StrSplit(text, '\n')) {
      custra::cli::Record record{custra::cli::SplitWhitespace(l), ++line};
      auto row = converter->Convert(record);
      (void)row;
    }
    return 0;
  }
  auto records = custra::cli::RecordReader::ParseCsv(text);
  if (!records.ok() || records->empty()) return 0;
  auto converter = custra::cli::NewOnlineRetailConverter("GBP");
  if (!converter->SetHeader((*records)[0].fields).ok()) return 0;
  for (size_t i = 1; i < records->size(); ++i) {
    auto row = converter->Convert((*records)[i]);
    (void)row;
  }
  return 0;
}
