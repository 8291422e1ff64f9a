#include "client/cli/output.h"

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli/format.h"

namespace custra::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// "CUSTOMER_KIND_ENTERPRISE" of enum CustomerKind -> "ENTERPRISE".
std::string EnumText(const google::protobuf::EnumValueDescriptor* value) {
  std::string prefix;
  for (char c : value->type()->name()) {
    if (absl::ascii_isupper(c) && !prefix.empty()) prefix += '_';
    prefix += absl::ascii_toupper(c);
  }
  prefix += '_';
  std::string name = value->name();
  if (absl::StartsWith(name, prefix)) name = name.substr(prefix.size());
  return name;
}

// JSON with the proto field names, as one line or indented.
std::string ToJson(const Message& message, bool pretty = true) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  while (!json.empty() && json.back() == '\n') json.pop_back();
  return json;
}

std::string MessageText(const Message& message) {
  const std::string& type = message.GetDescriptor()->full_name();
  const Reflection* reflection = message.GetReflection();
  const Descriptor* descriptor = message.GetDescriptor();
  if (type == "google.protobuf.Timestamp") {
    return TimeText(static_cast<const google::protobuf::Timestamp&>(message));
  }
  if (type == "custra.v1.Money") {
    // Exact: at least cents, then as many digits as the micros need (CSV and
    // JSON output are for programs; tables round with Units() of format.h).
    const int64_t micros = reflection->GetInt64(
        message, descriptor->FindFieldByName("amount_micros"));
    const std::string currency = reflection->GetString(
        message, descriptor->FindFieldByName("currency_code"));
    const uint64_t abs = micros < 0 ? 0 - static_cast<uint64_t>(micros)
                                    : static_cast<uint64_t>(micros);
    std::string fraction = absl::StrFormat("%06d", abs % 1000000);
    while (fraction.size() > 2 && fraction.back() == '0') fraction.pop_back();
    std::string units =
        absl::StrCat(micros < 0 ? "-" : "", abs / 1000000, ".", fraction);
    return currency.empty() ? units : absl::StrCat(units, " ", currency);
  }
  if (type == "custra.v1.Date") {
    return DateText(static_cast<const v1::Date&>(message));
  }
  return ToJson(message, /*pretty=*/false);
}

std::string ScalarText(const Message& message, const FieldDescriptor* field,
                       int index) {
  const Reflection* r = message.GetReflection();
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(repeated ? r->GetRepeatedInt32(message, field, index)
                                   : r->GetInt32(message, field));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(repeated ? r->GetRepeatedInt64(message, field, index)
                                   : r->GetInt64(message, field));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(repeated ? r->GetRepeatedUInt32(message, field, index)
                                   : r->GetUInt32(message, field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(repeated ? r->GetRepeatedUInt64(message, field, index)
                                   : r->GetUInt64(message, field));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrFormat(
          "%g", repeated ? r->GetRepeatedDouble(message, field, index)
                         : r->GetDouble(message, field));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrFormat(
          "%g", repeated ? r->GetRepeatedFloat(message, field, index)
                         : r->GetFloat(message, field));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (repeated ? r->GetRepeatedBool(message, field, index)
                       : r->GetBool(message, field))
                 ? "true"
                 : "false";
    case FieldDescriptor::CPPTYPE_STRING:
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        return absl::StrCat(
            "<",
            (repeated ? r->GetRepeatedString(message, field, index)
                      : r->GetString(message, field))
                .size(),
            " bytes>");
      }
      return repeated ? r->GetRepeatedString(message, field, index)
                      : r->GetString(message, field);
    case FieldDescriptor::CPPTYPE_ENUM:
      return EnumText(repeated ? r->GetRepeatedEnum(message, field, index)
                               : r->GetEnum(message, field));
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (!repeated && !r->HasField(message, field)) return "";
      return MessageText(repeated ? r->GetRepeatedMessage(message, field, index)
                                  : r->GetMessage(message, field));
  }
  return "";
}

std::vector<const FieldDescriptor*> Columns(
    const Descriptor* type, const std::vector<std::string>& names) {
  std::vector<const FieldDescriptor*> fields;
  if (names.empty()) {
    for (int i = 0; i < type->field_count(); ++i) {
      fields.push_back(type->field(i));
    }
  } else {
    for (const std::string& name : names) {
      if (const FieldDescriptor* f = type->FindFieldByName(name)) {
        fields.push_back(f);
      }
    }
  }
  return fields;
}

}  // namespace

bool ParseOutputFormat(const std::string& text, OutputFormat* format) {
  if (text == "table") {
    *format = OutputFormat::kTable;
  } else if (text == "json") {
    *format = OutputFormat::kJson;
  } else if (text == "csv") {
    *format = OutputFormat::kCsv;
  } else {
    return false;
  }
  return true;
}

std::string FieldText(const Message& message, const FieldDescriptor* field) {
  if (field->is_map()) {
    return absl::StrCat("{", message.GetReflection()->FieldSize(message, field),
                        " entries}");
  }
  if (!field->is_repeated()) return ScalarText(message, field, 0);
  std::vector<std::string> items;
  const int size = message.GetReflection()->FieldSize(message, field);
  for (int i = 0; i < size; ++i) items.push_back(ScalarText(message, field, i));
  return absl::StrJoin(items, ";");
}

void PrintRows(const std::vector<const Message*>& rows, const Descriptor* type,
               OutputFormat format, std::ostream& out,
               const std::vector<std::string>& columns) {
  if (format == OutputFormat::kJson) {
    out << "[";
    for (size_t i = 0; i < rows.size(); ++i) {
      out << (i ? ",\n" : "\n") << ToJson(*rows[i]);
    }
    out << (rows.empty() ? "]\n" : "\n]\n");
    return;
  }
  const std::vector<const FieldDescriptor*> fields = Columns(type, columns);
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> header;
  for (const FieldDescriptor* f : fields) {
    header.push_back(format == OutputFormat::kCsv
                         ? f->name()
                         : absl::AsciiStrToUpper(f->name()));
  }
  cells.push_back(header);
  for (const Message* row : rows) {
    std::vector<std::string> line;
    for (const FieldDescriptor* f : fields) line.push_back(FieldText(*row, f));
    cells.push_back(std::move(line));
  }
  if (format == OutputFormat::kCsv) {
    for (const auto& line : cells) {
      std::vector<std::string> escaped;
      for (const auto& cell : line) escaped.push_back(CsvEscape(cell));
      out << absl::StrJoin(escaped, ",") << "\n";
    }
    return;
  }
  std::vector<size_t> width(fields.size(), 0);
  for (const auto& line : cells) {
    for (size_t c = 0; c < line.size(); ++c) {
      width[c] = std::max(width[c], line[c].size());
    }
  }
  for (const auto& line : cells) {
    std::string text;
    for (size_t c = 0; c < line.size(); ++c) {
      absl::StrAppend(&text, line[c]);
      if (c + 1 < line.size()) {
        text.append(width[c] - line[c].size() + 2, ' ');
      }
    }
    out << text << "\n";
  }
  if (rows.empty()) out << "(none)\n";
}

namespace {

bool IsLeafMessage(const Descriptor* type) {
  const std::string& name = type->full_name();
  return name == "google.protobuf.Timestamp" || name == "custra.v1.Money" ||
         name == "custra.v1.Date";
}

// "name value" lines; nested messages are flattened to dotted names and
// unset ones left out.
void CollectLines(const Message& message, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>& lines) {
  const Descriptor* type = message.GetDescriptor();
  const Reflection* reflection = message.GetReflection();
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    const std::string name = prefix + f->name();
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        !f->is_repeated() && !IsLeafMessage(f->message_type())) {
      if (reflection->HasField(message, f)) {
        CollectLines(reflection->GetMessage(message, f), name + ".", lines);
      }
      continue;
    }
    lines.emplace_back(name, FieldText(message, f));
  }
}

}  // namespace

void PrintOne(const Message& message, OutputFormat format, std::ostream& out) {
  if (format != OutputFormat::kTable) {
    if (format == OutputFormat::kJson) {
      out << ToJson(message) << "\n";
    } else {
      PrintRows({&message}, message.GetDescriptor(), format, out);
    }
    return;
  }
  std::vector<std::pair<std::string, std::string>> lines;
  CollectLines(message, "", lines);
  size_t width = 0;
  for (const auto& [name, value] : lines) width = std::max(width, name.size());
  for (const auto& [name, value] : lines) {
    out << name << std::string(width - name.size() + 2, ' ') << value << "\n";
  }
}

}  // namespace custra::cli
