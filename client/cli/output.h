#ifndef CUSTRA_CLIENT_CLI_OUTPUT_H_
#define CUSTRA_CLIENT_CLI_OUTPUT_H_

// Printing protobuf messages for people (aligned tables) and machines (JSON,
// CSV). Works for any message through protobuf reflection, so a new CLI
// command prints its results with one call.

#include <google/protobuf/message.h>

#include <ostream>
#include <string>
#include <vector>

namespace custra::cli {

enum class OutputFormat { kTable, kJson, kCsv };

// Parses "table", "json" or "csv"; false for anything else.
bool ParseOutputFormat(const std::string& text, OutputFormat* format);

// One cell: a field of `message` rendered as text. Timestamps become
// RFC 3339, Money "12.34 USD", Date "2024-01-31", enums their value name
// without the enum's prefix, repeated scalars joined with ";".
std::string FieldText(const google::protobuf::Message& message,
                      const google::protobuf::FieldDescriptor* field);

// Prints rows of the same message type: a table with one column per field,
// a JSON array, or CSV with a header line. `columns` selects and orders
// fields by name; empty means every field.
void PrintRows(const std::vector<const google::protobuf::Message*>& rows,
               const google::protobuf::Descriptor* type, OutputFormat format,
               std::ostream& out, const std::vector<std::string>& columns = {});

// Prints one message: "field  value" lines, a JSON object, or a one-row CSV.
void PrintOne(const google::protobuf::Message& message, OutputFormat format,
              std::ostream& out);

}  // namespace custra::cli

#endif  // CUSTRA_CLIENT_CLI_OUTPUT_H_
