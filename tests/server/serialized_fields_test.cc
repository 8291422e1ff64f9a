#include "server/serialized_fields.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>

#include "custra/v1/segmentation.pb.h"

namespace custra::server {
namespace {

using ::google::protobuf::util::MessageDifferencer;

v1::SegmentationRun MakeRun(const std::string& id, int customers) {
  v1::SegmentationRun run;
  run.set_id(id);
  run.set_model(v1::SEGMENTATION_MODEL_ABC);
  run.set_customer_count(customers);
  return run;
}

TEST(SerializedFieldsTest,
     AppendedRepeatedElementsParseInOrderNextToKnownOnes) {
  const v1::SegmentationRun first = MakeRun("run-1", 10);
  const v1::SegmentationRun second = MakeRun("run-2", 20);
  v1::ListRunsResponse response;
  response.set_next_page_token("token");
  AppendSerializedField(&response, v1::ListRunsResponse::kRunsFieldNumber,
                        first.SerializeAsString());
  AppendSerializedField(&response, v1::ListRunsResponse::kRunsFieldNumber,
                        second.SerializeAsString());
  EXPECT_EQ(response.runs_size(), 0);  // Not parsed on this side.

  v1::ListRunsResponse received;
  ASSERT_TRUE(received.ParseFromString(response.SerializeAsString()));
  ASSERT_EQ(received.runs_size(), 2);
  EXPECT_TRUE(MessageDifferencer::Equals(received.runs(0), first));
  EXPECT_TRUE(MessageDifferencer::Equals(received.runs(1), second));
  EXPECT_EQ(received.next_page_token(), "token");
  EXPECT_EQ(received.GetReflection()->GetUnknownFields(received).field_count(),
            0);
  // ByteSizeLong (the access log's byte count) counts the appended bytes.
  EXPECT_EQ(response.ByteSizeLong(), received.ByteSizeLong());
}

TEST(SerializedFieldsTest, AppendedSingularFieldParsesAsThatField) {
  const v1::SegmentationRun run = MakeRun("run-7", 7);
  v1::GetRunResponse response;
  AppendSerializedField(&response, v1::GetRunResponse::kRunFieldNumber,
                        run.SerializeAsString());
  EXPECT_FALSE(response.has_run());

  v1::GetRunResponse received;
  ASSERT_TRUE(received.ParseFromString(response.SerializeAsString()));
  ASSERT_TRUE(received.has_run());
  EXPECT_TRUE(MessageDifferencer::Equals(received.run(), run));
}

TEST(SerializedFieldsTest, AnEmptyMessageIsAPresentDefaultField) {
  v1::GetRunResponse response;
  AppendSerializedField(&response, v1::GetRunResponse::kRunFieldNumber, "");
  v1::GetRunResponse received;
  ASSERT_TRUE(received.ParseFromString(response.SerializeAsString()));
  EXPECT_TRUE(received.has_run());
  EXPECT_EQ(received.run().id(), "");
}

}  // namespace
}  // namespace custra::server
