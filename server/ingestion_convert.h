#ifndef CUSTRA_SERVER_INGESTION_CONVERT_H_
#define CUSTRA_SERVER_INGESTION_CONVERT_H_

// Conversions between custra.v1 ingestion messages and common's structs.

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ingestion_types.h"
#include "custra/v1/ingestion.pb.h"

namespace custra::server {

TransactionRow FromProto(const v1::Transaction& in);
InteractionRow FromProto(const v1::Interaction& in);
CustomerRecord FromProto(const v1::Customer& in);

// `tenant_currency` fills the currency of the purchase aggregates.
void ToProto(const CustomerRecord& in, absl::string_view tenant_currency,
             v1::Customer* out);
void ToProto(const InteractionRow& in, v1::Interaction* out);
void ToProto(const IngestResult& in, v1::IngestionBatchResult* out);
void ToProto(const CustomerBatchResult& in, v1::CustomerBatchResult* out);

// The customer fields an update mask may name; INVALID_ARGUMENT (field
// update_mask) for any other path. An empty mask yields nullopt ("all").
absl::StatusOr<std::optional<std::set<std::string>>> CustomerMask(
    const google::protobuf::FieldMask& mask);

}  // namespace custra::server

#endif  // CUSTRA_SERVER_INGESTION_CONVERT_H_
