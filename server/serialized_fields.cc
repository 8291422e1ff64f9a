#include "server/serialized_fields.h"

#include <google/protobuf/unknown_field_set.h>

#include <utility>

namespace custra::server {

void AppendSerializedField(google::protobuf::Message* parent, int field_number,
                           std::string serialized) {
  *parent->GetReflection()->MutableUnknownFields(parent)->AddLengthDelimited(
      field_number) = std::move(serialized);
}

}  // namespace custra::server
