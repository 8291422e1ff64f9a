#ifndef CUSTRA_SERVER_SERIALIZED_FIELDS_H_
#define CUSTRA_SERVER_SERIALIZED_FIELDS_H_

// Stored records sent as they are.
//
// Some records (segmentation runs) are stored as the serialized message that
// the API returns. Parsing one only for gRPC to serialize it again costs a
// read more CPU than the rest of the call: a page of ten RFM runs is about
// 20 KB and hundreds of small allocations each way. On the wire a message
// field is its number, its length and the message's bytes, and a parser
// appends each occurrence of a repeated field (and merges those of a singular
// one) wherever it appears. So the stored bytes can go into the response as
// a field that the response's own (C++) object does not parse: its unknown
// fields, which protobuf serializes verbatim after the known ones.

#include <google/protobuf/message.h>

#include <string>

namespace custra::server {

// Appends `serialized`, the wire form of the message type of `parent`'s
// field `field_number` (a message field, repeated or not), to `parent` as
// one occurrence of that field. A client reading `parent` sees the message
// as that field's (next) element. `parent` must not set a singular field
// that way as well.
void AppendSerializedField(google::protobuf::Message* parent, int field_number,
                           std::string serialized);

}  // namespace custra::server

#endif  // CUSTRA_SERVER_SERIALIZED_FIELDS_H_
