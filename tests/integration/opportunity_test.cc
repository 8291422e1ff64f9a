// OpportunityService against a real custra-server on loopback, through the
// SDK. Every expected value below is worked out by hand from the contract in
// protos/custra/v1/opportunity.proto (the comments show the arithmetic); the
// few points where the proto is silent follow the "Decision:" notes of
// common/pipeline_analytics.h, and none of the numbers comes from the code
// under test.

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custra/client.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace custra {
namespace {

using ::custra::testing::ServerProcess;
using ::custra::testing::StatusIs;
using ::custra::testing::TempDir;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

using S = absl::CivilSecond;
using D = absl::CivilDay;

int64_t Yuan(int64_t yuan) { return yuan * 1'000'000; }

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  out.set_nanos(
      static_cast<int32_t>((t - absl::FromUnixSeconds(absl::ToUnixSeconds(t))) /
                           absl::Nanoseconds(1)));
  return out;
}

// A UTC moment as a Timestamp.
google::protobuf::Timestamp At(S second) {
  return Ts(absl::FromCivil(second, absl::UTCTimeZone()));
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

absl::Time UtcTime(S second) {
  return absl::FromCivil(second, absl::UTCTimeZone());
}

v1::Date ToDate(D day) {
  v1::Date date;
  date.set_year(static_cast<int32_t>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

// The field of the one field violation of an INVALID_ARGUMENT status.
std::string ViolatedField(const absl::Status& status) {
  const ErrorDetails details = ErrorDetailsOf(status);
  if (details.field_violations.size() != 1) {
    return absl::StrCat("<", details.field_violations.size(), " violations>");
  }
  return details.field_violations[0].field;
}

std::string Reason(const absl::Status& status) {
  return ErrorDetailsOf(status).reason;
}

std::vector<std::string> Ids(const v1::ListOpportunitiesResponse& response) {
  std::vector<std::string> ids;
  for (const v1::Opportunity& o : response.opportunities()) {
    ids.push_back(o.id());
  }
  return ids;
}

std::vector<std::string> Ids(const v1::ListContactsResponse& response) {
  std::vector<std::string> ids;
  for (const v1::AccountContact& c : response.contacts()) ids.push_back(c.id());
  return ids;
}

// Activities are identified by their summary ("A1" ... in the fixture);
// their ids are assigned by the server.
std::vector<std::string> Summaries(const v1::ListActivitiesResponse& response) {
  std::vector<std::string> out;
  for (const v1::SalesActivity& a : response.activities()) {
    out.push_back(a.summary());
  }
  return out;
}

std::vector<std::string> StageIds(const v1::Pipeline& pipeline) {
  std::vector<std::string> ids;
  for (const v1::PipelineStage& s : pipeline.stages()) ids.push_back(s.id());
  return ids;
}

// "guided_solution>lost>negotiation(reopen)>won": the stages of a history.
std::string Path(const v1::ListStageChangesResponse& history) {
  std::vector<std::string> parts;
  for (const v1::OpportunityStageChange& c : history.stage_changes()) {
    parts.push_back(
        absl::StrCat(c.to_stage_id(), c.reopen() ? "(reopen)" : ""));
  }
  return absl::StrJoin(parts, ">");
}

std::vector<std::string> ContactIdsOf(const v1::Opportunity& o) {
  std::vector<std::string> ids;
  for (const v1::OpportunityContactLink& l : o.contacts()) {
    ids.push_back(l.contact_id());
  }
  return ids;
}

v1::PipelineStage Stage(const std::string& id, const std::string& name,
                        double probability, v1::PipelineStageKind kind,
                        int32_t stale_after_days = 0) {
  v1::PipelineStage s;
  s.set_id(id);
  s.set_display_name(name);
  s.set_default_probability(probability);
  s.set_kind(kind);
  s.set_stale_after_days(stale_after_days);
  return s;
}

// The expected totals of one stage: count, amount in yuan and weighted
// amount in micros.
struct ExpectedTotals {
  const char* stage;
  int32_t count;
  int64_t amount_yuan;
  int64_t weighted_micros;
};

void ExpectStageTotals(const v1::PipelineSummaryGroup& group,
                       std::span<const ExpectedTotals> expected) {
  ASSERT_EQ(group.stages_size(), static_cast<int>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    const ExpectedTotals& e = expected[i];
    const v1::PipelineStageTotals& t = group.stages(static_cast<int>(i));
    SCOPED_TRACE(absl::StrCat(group.owner(), " ", e.stage));
    EXPECT_EQ(t.stage_id(), e.stage);
    EXPECT_EQ(t.count(), e.count);
    EXPECT_EQ(t.amount().amount_micros(), Yuan(e.amount_yuan));
    EXPECT_EQ(t.amount().currency_code(), "CNY");
    EXPECT_EQ(t.weighted_amount().amount_micros(), e.weighted_micros);
  }
}

struct ExpectedConversion {
  const char* stage;
  int32_t entered;
  int32_t advanced;
  int32_t lost;
  double rate;
  double average_days;
  int32_t stays;
};

void ExpectConversions(const v1::PipelineSummaryGroup& group,
                       std::span<const ExpectedConversion> expected) {
  ASSERT_EQ(group.conversions_size(), static_cast<int>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    const ExpectedConversion& e = expected[i];
    const v1::PipelineStageConversion& c =
        group.conversions(static_cast<int>(i));
    SCOPED_TRACE(absl::StrCat(group.owner(), " ", e.stage));
    EXPECT_EQ(c.stage_id(), e.stage);
    EXPECT_EQ(c.entered_count(), e.entered);
    EXPECT_EQ(c.advanced_count(), e.advanced);
    EXPECT_EQ(c.lost_count(), e.lost);
    EXPECT_NEAR(c.conversion_rate(), e.rate, 1e-12);
    EXPECT_NEAR(c.average_days_in_stage(), e.average_days, 1e-9);
    EXPECT_EQ(c.completed_stay_count(), e.stays);
  }
}

struct ExpectedMonth {
  int32_t year;
  int32_t month;
  int32_t open_count;
  int64_t best_case_yuan;
  int64_t weighted_micros;
  int32_t won_count;
  int64_t won_yuan;
};

void ExpectMonth(const v1::ForecastMonth& m, const ExpectedMonth& e) {
  SCOPED_TRACE(absl::StrCat(e.year, "-", e.month));
  EXPECT_EQ(m.year(), e.year);
  EXPECT_EQ(m.month(), e.month);
  EXPECT_EQ(m.open_count(), e.open_count);
  EXPECT_EQ(m.best_case_amount().amount_micros(), Yuan(e.best_case_yuan));
  EXPECT_EQ(m.weighted_amount().amount_micros(), e.weighted_micros);
  EXPECT_EQ(m.won_count(), e.won_count);
  EXPECT_EQ(m.won_amount().amount_micros(), Yuan(e.won_yuan));
}

std::vector<std::string> StaleRows(
    const v1::ListStaleOpportunitiesResponse& response) {
  std::vector<std::string> rows;
  for (const v1::StaleOpportunity& s : response.stale_opportunities()) {
    rows.push_back(absl::StrCat(s.opportunity().id(), " ", s.inactive_days(),
                                "/", s.threshold_days()));
  }
  return rows;
}

std::string GapRow(const v1::DecisionMakerCoverageGap& gap) {
  return absl::StrCat(gap.opportunity().id(), " ",
                      v1::DecisionMakerGapReason_Name(gap.reason()), " [",
                      absl::StrJoin(gap.decision_maker_contact_ids(), ","),
                      "]");
}

std::vector<std::string> GapRows(
    const v1::GetDecisionMakerCoverageResponse& response) {
  std::vector<std::string> rows;
  for (const auto& gap : response.gaps()) rows.push_back(GapRow(gap));
  return rows;
}

// ---------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------

class OpportunityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    options.data_dir = dir_.path() / "data";
    auto server = ServerProcess::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = Connect("", server_->admin_key());
    acme_ = NewTenant("acme", &acme_key_);
  }

  std::unique_ptr<Client> Connect(const std::string& tenant,
                                  const std::string& key) {
    ClientOptions options;
    options.target = server_->address();
    options.tenant_id = tenant;
    options.api_key = key;
    options.default_deadline = absl::Seconds(30);
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }

  // A fresh tenant and a client with its API key (also stored in *key).
  std::unique_ptr<Client> NewTenant(const std::string& id,
                                    std::string* key = nullptr) {
    EXPECT_TRUE(admin_->CreateTenant(id).ok());
    auto issued = admin_->IssueApiKey(id);
    EXPECT_TRUE(issued.ok()) << issued.status();
    const std::string secret = issued.ok() ? issued->secret() : "";
    if (key != nullptr) *key = secret;
    return Connect(id, secret);
  }

  static void UpsertAccounts(
      Client& client,
      const std::vector<std::pair<std::string, v1::CustomerKind>>& accounts) {
    std::vector<v1::Customer> customers;
    for (const auto& [id, kind] : accounts) {
      v1::Customer& c = customers.emplace_back();
      c.set_id(id);
      c.set_kind(kind);
      c.set_display_name(absl::StrCat("Account ", id));
    }
    auto result = client.UpsertCustomers(customers);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->rejected_count(), 0) << result->DebugString();
  }

  // Makes CNY the tenant's default currency: its first transaction is in
  // CNY.
  static void MakeCnyTheTenantCurrency(Client& client,
                                       const std::string& customer) {
    v1::Transaction t;
    t.set_id("t-cny");
    t.set_customer_id(customer);
    *t.mutable_time() = At(S(2024, 1, 2, 12, 0, 0));
    t.mutable_amount()->set_currency_code("CNY");
    t.mutable_amount()->set_amount_micros(Yuan(100));
    auto result = client.RecordTransactions({t});
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->accepted_count(), 1) << result->DebugString();
  }

  static v1::CreateOpportunityRequest DealRequest(
      const std::string& id, const std::string& customer,
      const std::string& owner, int64_t yuan, const std::string& stage, S open,
      D expected_close, const std::string& currency = "") {
    v1::CreateOpportunityRequest request;
    v1::Opportunity& o = *request.mutable_opportunity();
    o.set_id(id);
    o.set_customer_id(customer);
    o.set_title(absl::StrCat("Deal ", id));
    o.mutable_amount()->set_amount_micros(Yuan(yuan));
    o.mutable_amount()->set_currency_code(currency);
    *o.mutable_expected_close_date() = ToDate(expected_close);
    o.set_owner(owner);
    o.set_stage_id(stage);
    *o.mutable_open_time() = At(open);
    return request;
  }

  static v1::ChangeOpportunityStageRequest MoveRequest(
      const std::string& id, const std::string& to, S when,
      const std::string& actor = "li.wei") {
    v1::ChangeOpportunityStageRequest request;
    request.set_opportunity_id(id);
    request.set_to_stage_id(to);
    request.set_actor(actor);
    *request.mutable_change_time() = At(when);
    return request;
  }

  static v1::LogActivityRequest ActivityRequest(
      const std::string& summary, const std::string& customer,
      const std::string& opportunity, v1::SalesActivityKind kind, S when,
      const std::vector<std::string>& contacts, const std::string& owner) {
    v1::LogActivityRequest request;
    v1::SalesActivity& a = *request.mutable_activity();
    a.set_customer_id(customer);
    a.set_opportunity_id(opportunity);
    a.set_kind(kind);
    *a.mutable_occur_time() = At(when);
    for (const std::string& c : contacts) a.add_contact_ids(c);
    a.set_owner(owner);
    a.set_summary(summary);
    return request;
  }

  static v1::CreateContactRequest ContactRequest(const std::string& id,
                                                 const std::string& customer,
                                                 const std::string& name,
                                                 const std::string& title,
                                                 v1::ContactBuyingRole role,
                                                 v1::ContactAttitude attitude) {
    v1::CreateContactRequest request;
    v1::AccountContact& c = *request.mutable_contact();
    c.set_id(id);
    c.set_customer_id(customer);
    c.set_name(name);
    c.set_title(title);
    c.set_buying_role(role);
    c.set_attitude(attitude);
    return request;
  }

  // Thin wrappers that expect success (failures are recorded, and the
  // loaders check HasFailure() at their end).
  v1::Opportunity Create(const v1::CreateOpportunityRequest& request) {
    auto o = acme_->CreateOpportunity(request);
    EXPECT_TRUE(o.ok()) << request.opportunity().id() << ": " << o.status();
    return o.ok() ? *std::move(o) : v1::Opportunity();
  }

  v1::ChangeOpportunityStageResponse Move(
      const v1::ChangeOpportunityStageRequest& request) {
    auto r = acme_->ChangeOpportunityStage(request);
    EXPECT_TRUE(r.ok()) << request.opportunity_id() << " -> "
                        << request.to_stage_id() << ": " << r.status();
    return r.ok() ? *std::move(r) : v1::ChangeOpportunityStageResponse();
  }

  v1::ChangeOpportunityStageResponse Move(const std::string& id,
                                          const std::string& to, S when) {
    return Move(MoveRequest(id, to, when));
  }

  v1::SalesActivity Log(const v1::LogActivityRequest& request) {
    auto a = acme_->LogActivity(request);
    EXPECT_TRUE(a.ok()) << request.activity().summary() << ": " << a.status();
    return a.ok() ? *std::move(a) : v1::SalesActivity();
  }

  v1::Opportunity Link(
      const std::string& opportunity, const std::string& contact,
      v1::ContactBuyingRole role = v1::CONTACT_BUYING_ROLE_UNSPECIFIED) {
    v1::LinkOpportunityContactRequest request;
    request.set_opportunity_id(opportunity);
    request.mutable_link()->set_contact_id(contact);
    request.mutable_link()->set_role(role);
    auto o = acme_->LinkOpportunityContact(request);
    EXPECT_TRUE(o.ok()) << opportunity << " + " << contact << ": "
                        << o.status();
    return o.ok() ? *std::move(o) : v1::Opportunity();
  }

  v1::Opportunity Get(const std::string& id) {
    auto o = acme_->GetOpportunity(id);
    EXPECT_TRUE(o.ok()) << id << ": " << o.status();
    return o.ok() ? *std::move(o) : v1::Opportunity();
  }

  v1::ListStageChangesResponse History(const std::string& id,
                                       Client* client = nullptr) {
    v1::ListStageChangesRequest request;
    request.set_opportunity_id(id);
    auto history = (client ? client : acme_.get())->ListStageChanges(request);
    EXPECT_TRUE(history.ok()) << id << ": " << history.status();
    return history.ok() ? *std::move(history) : v1::ListStageChangesResponse();
  }

  v1::ListOpportunitiesResponse ListDeals(const std::string& filter = "",
                                          int32_t page_size = 0,
                                          const std::string& token = "",
                                          Client* client = nullptr) {
    v1::ListOpportunitiesRequest request;
    request.set_filter(filter);
    request.set_page_size(page_size);
    request.set_page_token(token);
    auto list = (client ? client : acme_.get())->ListOpportunities(request);
    EXPECT_TRUE(list.ok()) << filter << ": " << list.status();
    return list.ok() ? *std::move(list) : v1::ListOpportunitiesResponse();
  }

  v1::ListContactsResponse ListContacts(const std::string& filter = "",
                                        int32_t page_size = 0,
                                        const std::string& token = "",
                                        Client* client = nullptr) {
    v1::ListContactsRequest request;
    request.set_filter(filter);
    request.set_page_size(page_size);
    request.set_page_token(token);
    auto list = (client ? client : acme_.get())->ListContacts(request);
    EXPECT_TRUE(list.ok()) << filter << ": " << list.status();
    return list.ok() ? *std::move(list) : v1::ListContactsResponse();
  }

  v1::ListActivitiesResponse ListActivities(const std::string& filter = "",
                                            int32_t page_size = 0,
                                            const std::string& token = "",
                                            Client* client = nullptr) {
    v1::ListActivitiesRequest request;
    request.set_filter(filter);
    request.set_page_size(page_size);
    request.set_page_token(token);
    auto list = (client ? client : acme_.get())->ListActivities(request);
    EXPECT_TRUE(list.ok()) << filter << ": " << list.status();
    return list.ok() ? *std::move(list) : v1::ListActivitiesResponse();
  }

  v1::Pipeline GetPipeline(Client* client = nullptr) {
    auto p = (client ? client : acme_.get())->GetPipeline();
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : v1::Pipeline();
  }

  // The hand-worked pipeline of tenant acme. Amounts are in the tenant's
  // currency CNY (an empty currency code) unless noted; times are UTC;
  // dates without a year are in 2025.
  //
  //   id  account owner     amount     history                        close by
  //   o01 gov-a   li.wei    1,000,000  scene 2024-11-01 12:00,        03-31
  //                                    pain 01-11 12:00, proposal
  //                                    02-10 12:00, won 03-12 12:00
  //   o02 gov-a   li.wei      400,000  scene 01-05 12:00, problem     03-15
  //                                    01-20 12:00, lost 02-19 12:00
  //   o03 gov-a   li.wei      600,000  guided_solution 01-15 12:00,   04-30
  //                                    lost 02-14 12:00, REOPENED to
  //                                    negotiation 03-01 12:00, won
  //                                    04-10 12:00
  //   o04 gov-a   zhang.min 2,000,000  scene 2024-12-01 12:00,        08-15
  //                                    problem 02-01 12:00, pain
  //                                    03-01 12:00 (open)
  //   o05 ent-b   li.wei      300,000  scene 05-01 12:00 (open)       07-20
  //   o06 ent-b   li.wei      800,000  proposal 03-10 12:00,          10-15
  //                                    negotiation 04-20 00:00 with
  //                                    override 0.9 (open)
  //   o07 ent-b   zhang.min   500,000  scene 2024-09-01 12:00, won 2024-12-31
  //                                    2024-12-20 12:00
  //   o08 ent-b   zhang.min   250,000  problem 02-01 12:00, pain      06-30
  //                                    03-01 12:00, lost 05-31 12:00
  //   o09 ent-c   li.wei    1,200,000  problem 04-01 12:00,           07-10
  //                 (explicit "CNY")   negotiation 06-01 12:00 (open)
  //   o10 ent-c   zhang.min   700,000  guided_solution 05-15 12:00,   07-31
  //                                    won 07-05 12:00
  //   o11 ent-c   zhang.min   150,000  scene 06-10 12:00 (open)       06-30
  //   o12 ent-c   zhang.min   USD 90,000  problem 06-15 12:00 (open)  08-01
  //
  // Contacts (id, account, name, usual role, attitude) and their links:
  //   c-a1 gov-a Wang Ju     DECISION_MAKER       SUPPORTER  on o04
  //   c-a2 gov-a Li Zhuren   TECHNICAL_EVALUATOR  NEUTRAL    on o04
  //   c-b1 ent-b Zhao Zong   DECISION_MAKER       BLOCKER    on o06
  //   c-b2 ent-b Qian Jingli COACH                CHAMPION   on o05, o06
  //   c-c1 ent-c Sun Zong    DECISION_MAKER       SUPPORTER  on o09 (as DM)
  //   c-c2 ent-c Zhou Gong   USER                 NEUTRAL    on o11 as
  //                                                          DECISION_MAKER
  // (links without a role take the contact's usual role).
  //
  // Activities, logged in this order (the summary names them):
  //   A1 gov-a o04 VISIT        06-20 10:00 [c-a1]       zhang.min
  //   A2 ent-c o09 VISIT        04-01 23:00 [c-c1]       li.wei
  //   A3 ent-c --- CALL         06-25 09:00 [c-c2]       zhang.min
  //   A4 ent-b o06 PRESENTATION 05-10 12:00 [c-b1,c-b2]  li.wei
  //   A5 ent-b o05 GIFT         05-20 12:00 [c-b2]       li.wei
  //   A6 gov-a o04 CALL         06-01 12:00 [c-a2]       zhang.min (older
  //                                              than A1, logged after it)
  void LoadHandWorkedPipeline() {
    ASSERT_NO_FATAL_FAILURE(
        UpsertAccounts(*acme_, {{"gov-a", v1::CUSTOMER_KIND_GOVERNMENT},
                                {"ent-b", v1::CUSTOMER_KIND_ENTERPRISE},
                                {"ent-c", v1::CUSTOMER_KIND_ENTERPRISE}}));
    ASSERT_NO_FATAL_FAILURE(MakeCnyTheTenantCurrency(*acme_, "gov-a"));

    // o01: won in the period after scene -> pain -> proposal.
    Create(DealRequest("o01", "gov-a", "li.wei", 1'000'000, "scene",
                       S(2024, 11, 1, 12, 0, 0), D(2025, 3, 31)));
    Move("o01", "pain", S(2025, 1, 11, 12, 0, 0));
    Move("o01", "proposal", S(2025, 2, 10, 12, 0, 0));
    Move("o01", "won", S(2025, 3, 12, 12, 0, 0));
    // o02: lost in the period.
    Create(DealRequest("o02", "gov-a", "li.wei", 400'000, "scene",
                       S(2025, 1, 5, 12, 0, 0), D(2025, 3, 15)));
    Move("o02", "problem", S(2025, 1, 20, 12, 0, 0));
    {
      v1::ChangeOpportunityStageRequest lose =
          MoveRequest("o02", "lost", S(2025, 2, 19, 12, 0, 0));
      lose.set_close_reason("budget cut");
      Move(lose);
    }
    // o03: lost, reopened, won.
    Create(DealRequest("o03", "gov-a", "li.wei", 600'000, "guided_solution",
                       S(2025, 1, 15, 12, 0, 0), D(2025, 4, 30)));
    Move("o03", "lost", S(2025, 2, 14, 12, 0, 0));
    {
      v1::ChangeOpportunityStageRequest reopen =
          MoveRequest("o03", "negotiation", S(2025, 3, 1, 12, 0, 0));
      reopen.set_reopen(true);
      reopen.set_note("budget restored");
      Move(reopen);
    }
    {
      v1::ChangeOpportunityStageRequest win =
          MoveRequest("o03", "won", S(2025, 4, 10, 12, 0, 0));
      win.set_close_reason("best FABE presentation");
      Move(win);
    }
    // o04: open in pain.
    Create(DealRequest("o04", "gov-a", "zhang.min", 2'000'000, "scene",
                       S(2024, 12, 1, 12, 0, 0), D(2025, 8, 15)));
    Move("o04", "problem", S(2025, 2, 1, 12, 0, 0));
    Move("o04", "pain", S(2025, 3, 1, 12, 0, 0));
    // o05: open in scene.
    Create(DealRequest("o05", "ent-b", "li.wei", 300'000, "scene",
                       S(2025, 5, 1, 12, 0, 0), D(2025, 7, 20)));
    // o06: open in negotiation with an override set by the stage change.
    Create(DealRequest("o06", "ent-b", "li.wei", 800'000, "proposal",
                       S(2025, 3, 10, 12, 0, 0), D(2025, 10, 15)));
    {
      v1::ChangeOpportunityStageRequest advance =
          MoveRequest("o06", "negotiation", S(2025, 4, 20, 0, 0, 0));
      advance.mutable_probability_override()->set_value(0.9);
      Move(advance);
    }
    // o07: won before the period.
    Create(DealRequest("o07", "ent-b", "zhang.min", 500'000, "scene",
                       S(2024, 9, 1, 12, 0, 0), D(2024, 12, 31)));
    Move("o07", "won", S(2024, 12, 20, 12, 0, 0));
    // o08: lost in the period.
    Create(DealRequest("o08", "ent-b", "zhang.min", 250'000, "problem",
                       S(2025, 2, 1, 12, 0, 0), D(2025, 6, 30)));
    Move("o08", "pain", S(2025, 3, 1, 12, 0, 0));
    Move("o08", "lost", S(2025, 5, 31, 12, 0, 0));
    // o09: open in negotiation, skipping three stages; explicit CNY.
    Create(DealRequest("o09", "ent-c", "li.wei", 1'200'000, "problem",
                       S(2025, 4, 1, 12, 0, 0), D(2025, 7, 10), "CNY"));
    Move("o09", "negotiation", S(2025, 6, 1, 12, 0, 0));
    // o10: won after the period.
    Create(DealRequest("o10", "ent-c", "zhang.min", 700'000, "guided_solution",
                       S(2025, 5, 15, 12, 0, 0), D(2025, 7, 31)));
    Move("o10", "won", S(2025, 7, 5, 12, 0, 0));
    // o11: open in scene, expected to close before the forecast.
    Create(DealRequest("o11", "ent-c", "zhang.min", 150'000, "scene",
                       S(2025, 6, 10, 12, 0, 0), D(2025, 6, 30)));
    // o12: open, in another currency.
    Create(DealRequest("o12", "ent-c", "zhang.min", 90'000, "problem",
                       S(2025, 6, 15, 12, 0, 0), D(2025, 8, 1), "USD"));

    using R = v1::ContactBuyingRole;
    using A = v1::ContactAttitude;
    for (const v1::CreateContactRequest& request : {
             ContactRequest("c-a1", "gov-a", "Wang Ju", "局长",
                            R::CONTACT_BUYING_ROLE_DECISION_MAKER,
                            A::CONTACT_ATTITUDE_SUPPORTER),
             ContactRequest("c-a2", "gov-a", "Li Zhuren", "信息中心主任",
                            R::CONTACT_BUYING_ROLE_TECHNICAL_EVALUATOR,
                            A::CONTACT_ATTITUDE_NEUTRAL),
             ContactRequest("c-b1", "ent-b", "Zhao Zong", "总经理",
                            R::CONTACT_BUYING_ROLE_DECISION_MAKER,
                            A::CONTACT_ATTITUDE_BLOCKER),
             ContactRequest("c-b2", "ent-b", "Qian Jingli", "采购经理",
                            R::CONTACT_BUYING_ROLE_COACH,
                            A::CONTACT_ATTITUDE_CHAMPION),
             ContactRequest("c-c1", "ent-c", "Sun Zong", "总裁",
                            R::CONTACT_BUYING_ROLE_DECISION_MAKER,
                            A::CONTACT_ATTITUDE_SUPPORTER),
             ContactRequest("c-c2", "ent-c", "Zhou Gong", "工程师",
                            R::CONTACT_BUYING_ROLE_USER,
                            A::CONTACT_ATTITUDE_NEUTRAL),
         }) {
      auto contact = acme_->CreateContact(request);
      EXPECT_TRUE(contact.ok())
          << request.contact().id() << ": " << contact.status();
    }
    Link("o04", "c-a1");
    Link("o04", "c-a2");
    Link("o05", "c-b2");
    Link("o06", "c-b1");
    Link("o06", "c-b2");
    Link("o09", "c-c1", v1::CONTACT_BUYING_ROLE_DECISION_MAKER);
    Link("o11", "c-c2", v1::CONTACT_BUYING_ROLE_DECISION_MAKER);

    using K = v1::SalesActivityKind;
    Log(ActivityRequest("A1", "gov-a", "o04", K::SALES_ACTIVITY_KIND_VISIT,
                        S(2025, 6, 20, 10, 0, 0), {"c-a1"}, "zhang.min"));
    Log(ActivityRequest("A2", "ent-c", "o09", K::SALES_ACTIVITY_KIND_VISIT,
                        S(2025, 4, 1, 23, 0, 0), {"c-c1"}, "li.wei"));
    Log(ActivityRequest("A3", "ent-c", "", K::SALES_ACTIVITY_KIND_CALL,
                        S(2025, 6, 25, 9, 0, 0), {"c-c2"}, "zhang.min"));
    Log(ActivityRequest("A4", "ent-b", "o06",
                        K::SALES_ACTIVITY_KIND_PRESENTATION,
                        S(2025, 5, 10, 12, 0, 0), {"c-b1", "c-b2"}, "li.wei"));
    Log(ActivityRequest("A5", "ent-b", "o05", K::SALES_ACTIVITY_KIND_GIFT,
                        S(2025, 5, 20, 12, 0, 0), {"c-b2"}, "li.wei"));
    Log(ActivityRequest("A6", "gov-a", "o04", K::SALES_ACTIVITY_KIND_CALL,
                        S(2025, 6, 1, 12, 0, 0), {"c-a2"}, "zhang.min"));
    ASSERT_FALSE(HasFailure()) << "the hand-worked pipeline did not load";
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Client> admin_;
  std::unique_ptr<Client> acme_;
  std::string acme_key_;
};

// ---------------------------------------------------------------------------
// 1. The pipeline
// ---------------------------------------------------------------------------

TEST_F(OpportunityTest, PipelineDefaultUpdateRemapAndValidation) {
  // The default pipeline, exactly as the proto tabulates it, with
  // default_stale_after_days 30, no per-stage thresholds and no update_time.
  const v1::Pipeline initial = GetPipeline();
  struct DefaultStage {
    const char* id;
    const char* name;
    double probability;
    v1::PipelineStageKind kind;
  };
  const DefaultStage kDefault[] = {
      {"scene", "Scene (场景)", 0.05, v1::PIPELINE_STAGE_KIND_OPEN},
      {"problem", "Problem (问题)", 0.10, v1::PIPELINE_STAGE_KIND_OPEN},
      {"pain", "Pain (痛点)", 0.20, v1::PIPELINE_STAGE_KIND_OPEN},
      {"guided_solution", "Guided solution (引导)", 0.35,
       v1::PIPELINE_STAGE_KIND_OPEN},
      {"proposal", "Presentation / proposal (呈现 FABE)", 0.50,
       v1::PIPELINE_STAGE_KIND_OPEN},
      {"negotiation", "Negotiation (谈判)", 0.75, v1::PIPELINE_STAGE_KIND_OPEN},
      {"won", "Won (成交)", 1.00, v1::PIPELINE_STAGE_KIND_WON},
      {"lost", "Lost (丢单)", 0.00, v1::PIPELINE_STAGE_KIND_LOST},
  };
  ASSERT_EQ(initial.stages_size(), 8);
  for (int i = 0; i < 8; ++i) {
    SCOPED_TRACE(kDefault[i].id);
    EXPECT_EQ(initial.stages(i).id(), kDefault[i].id);
    EXPECT_EQ(initial.stages(i).display_name(), kDefault[i].name);
    EXPECT_DOUBLE_EQ(initial.stages(i).default_probability(),
                     kDefault[i].probability);
    EXPECT_EQ(initial.stages(i).kind(), kDefault[i].kind);
    EXPECT_EQ(initial.stages(i).stale_after_days(), 0);
  }
  EXPECT_EQ(initial.default_stale_after_days(), 30);
  EXPECT_FALSE(initial.has_update_time());

  // Three deals on the default pipeline: one in guided_solution, two in
  // proposal (0.50), one of those with an override of 0.42.
  ASSERT_NO_FATAL_FAILURE(
      UpsertAccounts(*acme_, {{"gov-a", v1::CUSTOMER_KIND_GOVERNMENT}}));
  const v1::Opportunity guided =
      Create(DealRequest("p-guided", "gov-a", "li.wei", 100, "guided_solution",
                         S(2025, 3, 1, 12, 0, 0), D(2025, 9, 30)));
  EXPECT_DOUBLE_EQ(guided.probability(), 0.35);
  const v1::Opportunity proposal =
      Create(DealRequest("p-prop", "gov-a", "li.wei", 100, "proposal",
                         S(2025, 3, 1, 12, 0, 0), D(2025, 9, 30)));
  EXPECT_DOUBLE_EQ(proposal.probability(), 0.50);
  v1::CreateOpportunityRequest with_override =
      DealRequest("p-prop-override", "gov-a", "li.wei", 100, "proposal",
                  S(2025, 3, 1, 12, 0, 0), D(2025, 9, 30));
  with_override.mutable_opportunity()
      ->mutable_probability_override()
      ->set_value(0.42);
  EXPECT_DOUBLE_EQ(Create(with_override).probability(), 0.42);
  ASSERT_FALSE(HasFailure());

  // Reorder (problem before scene), rename pain, add poc after proposal
  // with its own staleness threshold, change the proposal and negotiation
  // probabilities. default_stale_after_days 0 on input means 30.
  v1::UpdatePipelineRequest update;
  v1::Pipeline& wanted = *update.mutable_pipeline();
  using K = v1::PipelineStageKind;
  *wanted.add_stages() =
      Stage("problem", "Problem (问题)", 0.10, K::PIPELINE_STAGE_KIND_OPEN);
  *wanted.add_stages() =
      Stage("scene", "Scene (场景)", 0.05, K::PIPELINE_STAGE_KIND_OPEN);
  *wanted.add_stages() =
      Stage("pain", "Pain points (痛点)", 0.20, K::PIPELINE_STAGE_KIND_OPEN);
  *wanted.add_stages() = Stage("guided_solution", "Guided solution (引导)",
                               0.35, K::PIPELINE_STAGE_KIND_OPEN);
  *wanted.add_stages() = Stage("proposal", "Presentation / proposal", 0.55,
                               K::PIPELINE_STAGE_KIND_OPEN);
  *wanted.add_stages() = Stage("poc", "Proof of concept (验证)", 0.65,
                               K::PIPELINE_STAGE_KIND_OPEN, 14);
  *wanted.add_stages() = Stage("negotiation", "Negotiation (谈判)", 0.80,
                               K::PIPELINE_STAGE_KIND_OPEN);
  *wanted.add_stages() =
      Stage("won", "Won (成交)", 1, K::PIPELINE_STAGE_KIND_WON);
  *wanted.add_stages() =
      Stage("lost", "Lost (丢单)", 0, K::PIPELINE_STAGE_KIND_LOST);
  auto updated = acme_->UpdatePipeline(update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->remapped_opportunity_count(), 0);
  const v1::Pipeline& stored = updated->pipeline();
  EXPECT_THAT(StageIds(stored),
              ElementsAre("problem", "scene", "pain", "guided_solution",
                          "proposal", "poc", "negotiation", "won", "lost"));
  ASSERT_EQ(stored.stages_size(), 9);
  EXPECT_EQ(stored.stages(2).display_name(), "Pain points (痛点)");
  EXPECT_DOUBLE_EQ(stored.stages(4).default_probability(), 0.55);
  EXPECT_EQ(stored.stages(5).stale_after_days(), 14);
  EXPECT_DOUBLE_EQ(stored.stages(6).default_probability(), 0.80);
  EXPECT_EQ(stored.default_stale_after_days(), 30);
  EXPECT_TRUE(stored.has_update_time());
  v1::Pipeline current = GetPipeline();
  EXPECT_TRUE(MessageDifferencer::Equals(current, stored))
      << current.DebugString();

  // "Opportunities without a probability override take the new default of
  // their stage": p-prop now weighs 0.55; the override of p-prop-override
  // stays 0.42.
  EXPECT_DOUBLE_EQ(Get("p-prop").probability(), 0.55);
  EXPECT_EQ(Get("p-prop").stage_id(), "proposal");
  EXPECT_DOUBLE_EQ(Get("p-prop-override").probability(), 0.42);
  EXPECT_DOUBLE_EQ(Get("p-guided").probability(), 0.35);

  // Only default_stale_after_days by mask: the stages are kept although the
  // request carries none.
  v1::UpdatePipelineRequest stale_only;
  stale_only.mutable_pipeline()->set_default_stale_after_days(45);
  stale_only.mutable_update_mask()->add_paths("default_stale_after_days");
  auto stale_updated = acme_->UpdatePipeline(stale_only);
  ASSERT_TRUE(stale_updated.ok()) << stale_updated.status();
  EXPECT_EQ(stale_updated->pipeline().default_stale_after_days(), 45);
  EXPECT_EQ(StageIds(stale_updated->pipeline()), StageIds(stored));
  current = GetPipeline();
  const v1::ListStageChangesResponse guided_history = History("p-guided");
  const v1::Opportunity guided_before = Get("p-guided");

  // Removing guided_solution, which holds p-guided, without a stage_remap:
  // FAILED_PRECONDITION and nothing changes, as the UpdatePipeline comment
  // states ("must be moved by `stage_remap`, otherwise FAILED_PRECONDITION
  // and nothing changes"). The error must point at stage_remap.
  v1::UpdatePipelineRequest remove = update;
  remove.mutable_pipeline()->mutable_stages()->DeleteSubrange(3, 1);
  remove.mutable_pipeline()->set_default_stale_after_days(45);
  auto refused = acme_->UpdatePipeline(remove);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(
      std::string(refused.status().message()) + ViolatedField(refused.status()),
      HasSubstr("stage_remap"));
  EXPECT_TRUE(MessageDifferencer::Equals(GetPipeline(), current));
  EXPECT_TRUE(MessageDifferencer::Equals(Get("p-guided"), guided_before));
  // A remap of an open deal to the won stage is refused too.
  (*remove.mutable_stage_remap())["guided_solution"] = "won";
  EXPECT_FALSE(acme_->UpdatePipeline(remove).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(GetPipeline(), current));
  EXPECT_TRUE(MessageDifferencer::Equals(Get("p-guided"), guided_before));

  // With guided_solution -> proposal the deal moves (one remapped), takes
  // proposal's 0.55, stays open, and its history is kept as recorded (the
  // move is not a stage change).
  (*remove.mutable_stage_remap())["guided_solution"] = "proposal";
  auto remapped = acme_->UpdatePipeline(remove);
  ASSERT_TRUE(remapped.ok()) << remapped.status();
  EXPECT_EQ(remapped->remapped_opportunity_count(), 1);
  EXPECT_THAT(StageIds(remapped->pipeline()),
              ElementsAre("problem", "scene", "pain", "proposal", "poc",
                          "negotiation", "won", "lost"));
  const v1::Opportunity moved = Get("p-guided");
  EXPECT_EQ(moved.stage_id(), "proposal");
  EXPECT_EQ(moved.status(), v1::OPPORTUNITY_STATUS_OPEN);
  EXPECT_DOUBLE_EQ(moved.probability(), 0.55);
  EXPECT_TRUE(MessageDifferencer::Equals(History("p-guided"), guided_history));
  EXPECT_EQ(Path(History("p-guided")), "guided_solution");
  // The removed stage can no longer be entered; the moved deal still moves
  // normally.
  EXPECT_THAT(acme_->ChangeOpportunityStage(MoveRequest(
                  "p-guided", "guided_solution", S(2025, 4, 1, 12, 0, 0))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  const v1::ChangeOpportunityStageResponse to_poc =
      Move("p-guided", "poc", S(2025, 4, 1, 12, 0, 0));
  EXPECT_EQ(to_poc.stage_change().from_stage_id(), "proposal");
  EXPECT_EQ(to_poc.opportunity().stage_id(), "poc");
  EXPECT_DOUBLE_EQ(to_poc.opportunity().probability(), 0.65);

  // Invalid pipelines: INVALID_ARGUMENT naming the offending field, and the
  // stored pipeline is unchanged.
  current = GetPipeline();
  const v1::UpdatePipelineRequest base = remove;
  {
    SCOPED_TRACE("no won stage");
    v1::UpdatePipelineRequest bad = base;
    bad.clear_stage_remap();
    bad.mutable_pipeline()->mutable_stages()->DeleteSubrange(6, 1);
    auto result = acme_->UpdatePipeline(bad);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(ViolatedField(result.status()), "pipeline.stages");
  }
  {
    SCOPED_TRACE("probability 1.5");
    v1::UpdatePipelineRequest bad = base;
    bad.clear_stage_remap();
    bad.mutable_pipeline()->mutable_stages(2)->set_default_probability(1.5);
    auto result = acme_->UpdatePipeline(bad);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(ViolatedField(result.status()),
              "pipeline.stages[2].default_probability");
  }
  {
    SCOPED_TRACE("duplicate id");
    v1::UpdatePipelineRequest bad = base;
    bad.clear_stage_remap();
    bad.mutable_pipeline()->mutable_stages(4)->set_id("scene");
    auto result = acme_->UpdatePipeline(bad);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(ViolatedField(result.status()), "pipeline.stages[4].id");
  }
  {
    SCOPED_TRACE("won stage probability 0.9");
    v1::UpdatePipelineRequest bad = base;
    bad.clear_stage_remap();
    bad.mutable_pipeline()->mutable_stages(6)->set_default_probability(0.9);
    auto result = acme_->UpdatePipeline(bad);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(ViolatedField(result.status()),
              "pipeline.stages[6].default_probability");
  }
  EXPECT_TRUE(MessageDifferencer::Equals(GetPipeline(), current))
      << GetPipeline().DebugString();
}

// ---------------------------------------------------------------------------
// 2. Reports on the hand-worked pipeline
// ---------------------------------------------------------------------------

// GetPipelineSummary over 2025-01-01 .. 2025-06-30, grouped by owner. o12
// (USD) is left out of everything and counted as other currency.
//
// Stage totals: open stages count the deals in them now, weighted by their
// probability; won and lost count the deals closed in the period.
//   scene        o05 300,000 x .05 = 15,000; o11 150,000 x .05 = 7,500
//                -> 2, 450,000, 22,500
//   pain         o04 2,000,000 x .20 -> 1, 2,000,000, 400,000
//   negotiation  o06 800,000 x .9 (override) = 720,000; o09 1,200,000 x .75
//                = 900,000 -> 2, 2,000,000, 1,620,000
//   won          o01 (03-12), o03 (04-10); o07 (2024-12-20) and o10
//                (07-05) closed outside the period -> 2, 1,600,000
//   lost         o02 (02-19), o08 (05-31) -> 2, 650,000, weighted 0
//   open total   5, 4,450,000, 22,500 + 400,000 + 1,620,000 = 2,042,500
// Win rates: 2 / 4 = .5 by count, 1,600,000 / 2,250,000 = 32 / 45 by
// amount.
// Cycle days (open_time -> close_time): o01 2024-11-01 -> 03-12 = 30 + 31 +
// 31 + 28 + 11 = 131; o03 01-15 -> 04-10 = 17 + 28 + 31 + 9 = 85 (from
// its original open_time, through the reopen); o02 01-05 -> 02-19 = 45;
// o08 02-01 -> 05-31 = 28 + 31 + 30 + 30 = 119. Won: (131 + 85) / 2 = 108;
// closed: (131 + 85 + 45 + 119) / 4 = 95.
//
// Conversion (entries in the period; "advanced" = a later entry goes to a
// later open stage or to won, "lost" = a later entry goes to lost, at any
// time) and stays that ended in the period:
//   scene        entered o02 01-05, o05 05-01, o11 06-10 (o01, o04, o07
//                entered before the period) = 3; advanced o02 (problem);
//                lost o02. Stays: o01 2024-11-01 -> 01-11 = 71, o02 01-05
//                -> 01-20 = 15, o04 2024-12-01 -> 02-01 = 62 (o07's ended
//                in 2024) -> 148 / 3.
//   problem      entered o02 01-20, o04 02-01, o08 02-01, o09 04-01 = 4;
//                advanced o04, o08 (pain), o09 (negotiation) = 3; lost o02,
//                o08 = 2; rate .75. Stays 30, 28, 28, 61 -> 147 / 4 = 36.75.
//   pain         entered o01 01-11, o04 03-01, o08 03-01 = 3; advanced o01;
//                lost o08. Stays o01 30, o08 03-01 -> 05-31 = 91 (o04's is
//                ongoing) -> 60.5.
//   guided_sol.  entered o03 01-15, o10 05-15 = 2; advanced both (o03 to
//                negotiation and won, o10 to won on 07-05); lost o03 (02-14).
//                Stays: o03 30; o10's ended 07-05, after the period -> 30.
//   proposal     entered o01 02-10, o06 03-10 = 2; advanced both; stays o01
//                30, o06 03-10 12:00 -> 04-20 00:00 = 40.5 -> 35.25.
//   negotiation  entered o03 03-01, o06 04-20, o09 06-01 = 3; advanced o03
//                (won). Stays: o03 03-01 -> 04-10 = 40 -> 40.
TEST_F(OpportunityTest, HandWorkedPipelineSummary) {
  ASSERT_NO_FATAL_FAILURE(LoadHandWorkedPipeline());

  // The history of the reopened deal, as recorded.
  const v1::ListStageChangesResponse o03 = History("o03");
  EXPECT_EQ(Path(o03), "guided_solution>lost>negotiation(reopen)>won");
  ASSERT_EQ(o03.stage_changes_size(), 4);
  EXPECT_EQ(o03.stage_changes(0).from_stage_id(), "");
  EXPECT_EQ(o03.stage_changes(0).actor(), "li.wei");  // The owner.
  EXPECT_EQ(TimeOf(o03.stage_changes(0).change_time()),
            UtcTime(S(2025, 1, 15, 12, 0, 0)));
  EXPECT_DOUBLE_EQ(o03.stage_changes(0).probability(), 0.35);
  EXPECT_EQ(o03.stage_changes(2).from_stage_id(), "lost");
  EXPECT_EQ(o03.stage_changes(2).note(), "budget restored");
  EXPECT_DOUBLE_EQ(o03.stage_changes(2).probability(), 0.75);
  EXPECT_DOUBLE_EQ(o03.stage_changes(3).probability(), 1.0);
  const v1::Opportunity won = Get("o03");
  EXPECT_EQ(won.status(), v1::OPPORTUNITY_STATUS_WON);
  EXPECT_DOUBLE_EQ(won.probability(), 1.0);
  EXPECT_EQ(TimeOf(won.close_time()), UtcTime(S(2025, 4, 10, 12, 0, 0)));
  EXPECT_EQ(TimeOf(won.stage_enter_time()), UtcTime(S(2025, 4, 10, 12, 0, 0)));
  EXPECT_EQ(TimeOf(won.open_time()), UtcTime(S(2025, 1, 15, 12, 0, 0)));
  EXPECT_EQ(won.close_reason(), "best FABE presentation");
  const v1::Opportunity o06 = Get("o06");
  EXPECT_DOUBLE_EQ(o06.probability(), 0.9);
  EXPECT_DOUBLE_EQ(o06.probability_override().value(), 0.9);
  EXPECT_FALSE(o06.has_close_time());
  // Links without a role took the contact's usual role; o11's link has its
  // own.
  const v1::Opportunity o04 = Get("o04");
  ASSERT_EQ(o04.contacts_size(), 2);
  EXPECT_EQ(o04.contacts(0).role(), v1::CONTACT_BUYING_ROLE_DECISION_MAKER);
  EXPECT_EQ(o04.contacts(1).role(),
            v1::CONTACT_BUYING_ROLE_TECHNICAL_EVALUATOR);
  ASSERT_EQ(Get("o11").contacts_size(), 1);
  EXPECT_EQ(Get("o11").contacts(0).role(),
            v1::CONTACT_BUYING_ROLE_DECISION_MAKER);

  v1::GetPipelineSummaryRequest request;
  *request.mutable_start_date() = ToDate(D(2025, 1, 1));
  *request.mutable_end_date() = ToDate(D(2025, 6, 30));
  request.set_group_by(v1::PIPELINE_SUMMARY_GROUP_BY_OWNER);
  auto summary = acme_->GetPipelineSummary(request);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->currency_code(), "CNY");
  EXPECT_EQ(summary->other_currency_count(), 1);  // o12
  EXPECT_EQ(summary->start_date().year(), 2025);
  EXPECT_EQ(summary->start_date().month(), 1);
  EXPECT_EQ(summary->start_date().day(), 1);
  EXPECT_EQ(summary->end_date().month(), 6);
  EXPECT_EQ(summary->end_date().day(), 30);

  const v1::PipelineSummaryGroup& total = summary->total();
  EXPECT_EQ(total.owner(), "");
  const ExpectedTotals kTotal[] = {
      {"scene", 2, 450'000, Yuan(22'500)},
      {"problem", 0, 0, 0},
      {"pain", 1, 2'000'000, Yuan(400'000)},
      {"guided_solution", 0, 0, 0},
      {"proposal", 0, 0, 0},
      {"negotiation", 2, 2'000'000, Yuan(1'620'000)},
      {"won", 2, 1'600'000, Yuan(1'600'000)},
      {"lost", 2, 650'000, 0},
  };
  ExpectStageTotals(total, kTotal);
  EXPECT_EQ(total.stages(0).display_name(), "Scene (场景)");
  EXPECT_EQ(total.stages(6).kind(), v1::PIPELINE_STAGE_KIND_WON);
  EXPECT_EQ(total.open_total().stage_id(), "");
  EXPECT_EQ(total.open_total().display_name(), "");
  EXPECT_EQ(total.open_total().kind(), v1::PIPELINE_STAGE_KIND_OPEN);
  EXPECT_EQ(total.open_total().count(), 5);
  EXPECT_EQ(total.open_total().amount().amount_micros(), Yuan(4'450'000));
  EXPECT_EQ(total.open_total().weighted_amount().amount_micros(),
            Yuan(2'042'500));
  EXPECT_EQ(total.won_count(), 2);
  EXPECT_EQ(total.lost_count(), 2);
  EXPECT_DOUBLE_EQ(total.win_rate_by_count(), 0.5);
  EXPECT_EQ(total.won_amount().amount_micros(), Yuan(1'600'000));
  EXPECT_EQ(total.lost_amount().amount_micros(), Yuan(650'000));
  EXPECT_NEAR(total.win_rate_by_amount(), 32.0 / 45.0, 1e-12);
  EXPECT_NEAR(total.average_won_cycle_days(), 108, 1e-9);
  EXPECT_NEAR(total.average_closed_cycle_days(), 95, 1e-9);
  const ExpectedConversion kTotalConversions[] = {
      {"scene", 3, 1, 1, 1.0 / 3, 148.0 / 3, 3},
      {"problem", 4, 3, 2, 0.75, 36.75, 4},
      {"pain", 3, 1, 1, 1.0 / 3, 60.5, 2},
      {"guided_solution", 2, 2, 1, 1.0, 30, 1},
      {"proposal", 2, 2, 0, 1.0, 35.25, 2},
      {"negotiation", 3, 1, 0, 1.0 / 3, 40, 1},
  };
  ExpectConversions(total, kTotalConversions);

  // By owner, ordered by owner.
  ASSERT_EQ(summary->by_owner_size(), 2);
  // li.wei: o01, o02, o03, o05, o06, o09.
  //   scene o05 (300,000, 15,000); negotiation o06 + o09 (2,000,000,
  //   1,620,000); won o01 + o03; lost o02. Open total 3, 2,300,000,
  //   1,635,000. Win rate 2 / 3; by amount 1,600,000 / 2,000,000 = .8.
  //   Cycles: won (131 + 85) / 2 = 108, closed (131 + 85 + 45) / 3 = 87.
  //   Conversion: scene entered o02, o05; stays o01 71, o02 15 -> 43.
  //   problem entered o02, o09 (advanced), o02 lost; stays 30, 61 -> 45.5.
  //   pain o01; guided o03; proposal o01, o06; negotiation o03, o06, o09.
  const v1::PipelineSummaryGroup& li = summary->by_owner(0);
  EXPECT_EQ(li.owner(), "li.wei");
  const ExpectedTotals kLi[] = {
      {"scene", 1, 300'000, Yuan(15'000)},
      {"problem", 0, 0, 0},
      {"pain", 0, 0, 0},
      {"guided_solution", 0, 0, 0},
      {"proposal", 0, 0, 0},
      {"negotiation", 2, 2'000'000, Yuan(1'620'000)},
      {"won", 2, 1'600'000, Yuan(1'600'000)},
      {"lost", 1, 400'000, 0},
  };
  ExpectStageTotals(li, kLi);
  EXPECT_EQ(li.open_total().count(), 3);
  EXPECT_EQ(li.open_total().amount().amount_micros(), Yuan(2'300'000));
  EXPECT_EQ(li.open_total().weighted_amount().amount_micros(), Yuan(1'635'000));
  EXPECT_EQ(li.won_count(), 2);
  EXPECT_EQ(li.lost_count(), 1);
  EXPECT_NEAR(li.win_rate_by_count(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(li.win_rate_by_amount(), 0.8, 1e-12);
  EXPECT_NEAR(li.average_won_cycle_days(), 108, 1e-9);
  EXPECT_NEAR(li.average_closed_cycle_days(), 87, 1e-9);
  const ExpectedConversion kLiConversions[] = {
      {"scene", 2, 1, 1, 0.5, 43, 2},
      {"problem", 2, 1, 1, 0.5, 45.5, 2},
      {"pain", 1, 1, 0, 1.0, 30, 1},
      {"guided_solution", 1, 1, 1, 1.0, 30, 1},
      {"proposal", 2, 2, 0, 1.0, 35.25, 2},
      {"negotiation", 3, 1, 0, 1.0 / 3, 40, 1},
  };
  ExpectConversions(li, kLiConversions);

  // zhang.min: o04, o07, o08, o10, o11 (o12 is USD).
  //   scene o11 (150,000, 7,500); pain o04 (2,000,000, 400,000); lost o08;
  //   nothing won in the period. Open total 2, 2,150,000, 407,500. Win
  //   rates 0 and 0 / 250,000 = 0. Won cycle 0 (none); closed o08 119.
  //   Conversion: scene entered o11; stay o04 62. problem entered o04, o08,
  //   both advanced, o08 lost; stays 28, 28. pain entered o04, o08, o08
  //   lost; stay o08 91. guided entered o10, advanced (won 07-05), its stay
  //   ended after the period.
  const v1::PipelineSummaryGroup& zhang = summary->by_owner(1);
  EXPECT_EQ(zhang.owner(), "zhang.min");
  const ExpectedTotals kZhang[] = {
      {"scene", 1, 150'000, Yuan(7'500)},
      {"problem", 0, 0, 0},
      {"pain", 1, 2'000'000, Yuan(400'000)},
      {"guided_solution", 0, 0, 0},
      {"proposal", 0, 0, 0},
      {"negotiation", 0, 0, 0},
      {"won", 0, 0, 0},
      {"lost", 1, 250'000, 0},
  };
  ExpectStageTotals(zhang, kZhang);
  EXPECT_EQ(zhang.open_total().count(), 2);
  EXPECT_EQ(zhang.open_total().amount().amount_micros(), Yuan(2'150'000));
  EXPECT_EQ(zhang.open_total().weighted_amount().amount_micros(),
            Yuan(407'500));
  EXPECT_EQ(zhang.won_count(), 0);
  EXPECT_EQ(zhang.lost_count(), 1);
  EXPECT_DOUBLE_EQ(zhang.win_rate_by_count(), 0);
  EXPECT_DOUBLE_EQ(zhang.win_rate_by_amount(), 0);
  EXPECT_DOUBLE_EQ(zhang.average_won_cycle_days(), 0);
  EXPECT_NEAR(zhang.average_closed_cycle_days(), 119, 1e-9);
  const ExpectedConversion kZhangConversions[] = {
      {"scene", 1, 0, 0, 0, 62, 1},   {"problem", 2, 2, 1, 1.0, 28, 2},
      {"pain", 2, 0, 1, 0, 91, 1},    {"guided_solution", 1, 1, 0, 1.0, 0, 0},
      {"proposal", 0, 0, 0, 0, 0, 0}, {"negotiation", 0, 0, 0, 0, 0, 0},
  };
  ExpectConversions(zhang, kZhangConversions);

  // Filtered to li.wei's open deals, by stage only: no owner groups, no
  // other-currency deal (o12 is filtered out first).
  v1::GetPipelineSummaryRequest filtered = request;
  filtered.set_filter("owner=\"li.wei\" AND status=OPEN");
  filtered.clear_group_by();
  auto li_open = acme_->GetPipelineSummary(filtered);
  ASSERT_TRUE(li_open.ok()) << li_open.status();
  EXPECT_THAT(li_open->by_owner(), IsEmpty());
  EXPECT_EQ(li_open->other_currency_count(), 0);
  EXPECT_EQ(li_open->total().open_total().count(), 3);
  EXPECT_EQ(li_open->total().won_count(), 0);
  EXPECT_EQ(li_open->total().open_total().weighted_amount().amount_micros(),
            Yuan(1'635'000));

  // Weighted with calibrated probabilities (min_samples 20: every stage
  // falls back to its configured default, and o06's override is ignored):
  // negotiation (800,000 + 1,200,000) x .75 = 1,500,000; open total 22,500
  // + 400,000 + 1,500,000 = 1,922,500.
  v1::GetPipelineSummaryRequest calibrated = request;
  calibrated.clear_group_by();
  calibrated.set_probability_source(v1::FORECAST_PROBABILITY_SOURCE_CALIBRATED);
  auto weighted = acme_->GetPipelineSummary(calibrated);
  ASSERT_TRUE(weighted.ok()) << weighted.status();
  ASSERT_EQ(weighted->total().stages_size(), 8);
  EXPECT_EQ(weighted->total().stages(5).weighted_amount().amount_micros(),
            Yuan(1'500'000));
  EXPECT_EQ(weighted->total().open_total().weighted_amount().amount_micros(),
            Yuan(1'922'500));

  // A start after the end is refused.
  v1::GetPipelineSummaryRequest backwards = request;
  *backwards.mutable_start_date() = ToDate(D(2025, 7, 1));
  auto refused = acme_->GetPipelineSummary(backwards);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kInvalidArgument));
}

// GetForecast from July 2025 for 3 months (July, August, September):
//   open deals by expected close month (CNY only):
//     July   o05 300,000 x .05 = 15,000; o09 1,200,000 x .75 = 900,000
//            -> 2, 1,500,000, 915,000
//     Aug    o04 2,000,000 x .20 -> 1, 2,000,000, 400,000
//     Sep    nothing
//     o06 (10-15) is after the last month: left out. o11 (06-30) is
//     overdue: 1, 150,000, 7,500.
//   won deals by close month: o10 on 07-05 -> July 1, 700,000 (o01, o03,
//   o07 closed before July).
//   totals: best case 1,500,000 + 2,000,000 = 3,500,000; weighted 915,000 +
//   400,000 = 1,315,000. o12 (USD) is counted as other currency.
TEST_F(OpportunityTest, HandWorkedForecast) {
  ASSERT_NO_FATAL_FAILURE(LoadHandWorkedPipeline());
  v1::GetForecastRequest request;
  request.set_months(3);
  *request.mutable_start_date() = ToDate(D(2025, 7, 15));
  auto forecast = acme_->GetForecast(request);
  ASSERT_TRUE(forecast.ok()) << forecast.status();
  EXPECT_EQ(forecast->currency_code(), "CNY");
  EXPECT_EQ(forecast->other_currency_count(), 1);
  ASSERT_EQ(forecast->months_size(), 3);
  ExpectMonth(forecast->months(0),
              {2025, 7, 2, 1'500'000, Yuan(915'000), 1, 700'000});
  ExpectMonth(forecast->months(1),
              {2025, 8, 1, 2'000'000, Yuan(400'000), 0, 0});
  ExpectMonth(forecast->months(2), {2025, 9, 0, 0, 0, 0, 0});
  ExpectMonth(forecast->overdue(), {0, 0, 1, 150'000, Yuan(7'500), 0, 0});
  EXPECT_EQ(forecast->total_best_case_amount().amount_micros(),
            Yuan(3'500'000));
  EXPECT_EQ(forecast->total_weighted_amount().amount_micros(), Yuan(1'315'000));
  EXPECT_EQ(forecast->total_best_case_amount().currency_code(), "CNY");

  // zhang.min only: July has no open deal but o10's win; August o04; o11
  // overdue; o12 is still counted as other currency.
  request.set_filter("owner=\"zhang.min\"");
  auto zhang = acme_->GetForecast(request);
  ASSERT_TRUE(zhang.ok()) << zhang.status();
  ASSERT_EQ(zhang->months_size(), 3);
  ExpectMonth(zhang->months(0), {2025, 7, 0, 0, 0, 1, 700'000});
  ExpectMonth(zhang->months(1), {2025, 8, 1, 2'000'000, Yuan(400'000), 0, 0});
  ExpectMonth(zhang->overdue(), {0, 0, 1, 150'000, Yuan(7'500), 0, 0});
  EXPECT_EQ(zhang->other_currency_count(), 1);
  EXPECT_EQ(zhang->total_weighted_amount().amount_micros(), Yuan(400'000));

  // Months default to 6 (July .. December, o06 now in October: 800,000 x
  // .9 = 720,000); 37 is out of range.
  v1::GetForecastRequest six;
  *six.mutable_start_date() = ToDate(D(2025, 7, 1));
  auto half_year = acme_->GetForecast(six);
  ASSERT_TRUE(half_year.ok()) << half_year.status();
  ASSERT_EQ(half_year->months_size(), 6);
  EXPECT_EQ(half_year->months(5).year(), 2025);
  EXPECT_EQ(half_year->months(5).month(), 12);
  ExpectMonth(half_year->months(3),
              {2025, 10, 1, 800'000, Yuan(720'000), 0, 0});
  EXPECT_EQ(half_year->total_best_case_amount().amount_micros(),
            Yuan(4'300'000));
  EXPECT_EQ(half_year->total_weighted_amount().amount_micros(),
            Yuan(2'035'000));
  six.set_months(37);
  auto too_long = acme_->GetForecast(six);
  EXPECT_THAT(too_long, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(too_long.status()), "months");
}

// ListStaleOpportunities as of 2025-07-01 00:00 UTC. Whole days since the
// last activity on the deal (or open_time without one):
//   o04 pain        A1 06-20 10:00 (A6 on 06-01 is older) -> 10 d 14 h: 10
//   o05 scene       A5 05-20 12:00 -> 41.5 d: 41
//   o06 negotiation A4 05-10 12:00 -> 51.5 d: 51
//   o09 negotiation A2 04-01 23:00 -> 90 d 1 h: 90
//   o11 scene       no activity on the deal (A3 is account-level): open
//                   06-10 12:00 -> 20.5 d: 20
//   o12 problem     open 06-15 12:00 -> 15.5 d: 15 (currency plays no part)
TEST_F(OpportunityTest, HandWorkedStaleOpportunities) {
  ASSERT_NO_FATAL_FAILURE(LoadHandWorkedPipeline());
  EXPECT_EQ(TimeOf(Get("o04").last_activity_time()),
            UtcTime(S(2025, 6, 20, 10, 0, 0)));
  EXPECT_FALSE(Get("o11").has_last_activity_time());

  v1::ListStaleOpportunitiesRequest request;
  *request.mutable_as_of_time() = At(S(2025, 7, 1, 0, 0, 0));
  auto stale = acme_->ListStaleOpportunities(request);
  ASSERT_TRUE(stale.ok()) << stale.status();
  // The pipeline's 30 days everywhere: o09, o06, o05; most inactive first.
  EXPECT_THAT(StaleRows(*stale),
              ElementsAre("o09 90/30", "o06 51/30", "o05 41/30"));
  EXPECT_EQ(stale->next_page_token(), "");
  ASSERT_EQ(stale->stale_opportunities_size(), 3);
  EXPECT_EQ(stale->stale_opportunities(0).opportunity().stage_id(),
            "negotiation");
  EXPECT_EQ(stale->stale_opportunities(0).opportunity().owner(), "li.wei");

  // Paged two at a time.
  request.set_page_size(2);
  auto page1 = acme_->ListStaleOpportunities(request);
  ASSERT_TRUE(page1.ok()) << page1.status();
  EXPECT_THAT(StaleRows(*page1), ElementsAre("o09 90/30", "o06 51/30"));
  ASSERT_NE(page1->next_page_token(), "");
  request.set_page_token(page1->next_page_token());
  auto page2 = acme_->ListStaleOpportunities(request);
  ASSERT_TRUE(page2.ok()) << page2.status();
  EXPECT_THAT(StaleRows(*page2), ElementsAre("o05 41/30"));
  EXPECT_EQ(page2->next_page_token(), "");
  request.clear_page_size();
  request.clear_page_token();

  // Per-stage thresholds: scene 14, negotiation 60 (others 30):
  // o05 41 > 14, o11 20 > 14, o09 90 > 60; o06 51 <= 60, o12 15 <= 30,
  // o04 10 <= 30.
  (*request.mutable_stage_inactive_days())["scene"] = 14;
  (*request.mutable_stage_inactive_days())["negotiation"] = 60;
  auto per_stage = acme_->ListStaleOpportunities(request);
  ASSERT_TRUE(per_stage.ok()) << per_stage.status();
  EXPECT_THAT(StaleRows(*per_stage),
              ElementsAre("o09 90/60", "o05 41/14", "o11 20/14"));

  // inactive_days 12 for every stage, except negotiation at 100: o05 41,
  // o11 20, o12 15 exceed 12; o04 10 does not; o06 51 and o09 90 stay under
  // 100.
  request.clear_stage_inactive_days();
  request.set_inactive_days(12);
  (*request.mutable_stage_inactive_days())["negotiation"] = 100;
  auto overridden = acme_->ListStaleOpportunities(request);
  ASSERT_TRUE(overridden.ok()) << overridden.status();
  EXPECT_THAT(StaleRows(*overridden),
              ElementsAre("o05 41/12", "o11 20/12", "o12 15/12"));

  // A filter narrows the deals considered: ent-b's o06 and o05.
  v1::ListStaleOpportunitiesRequest ent_b;
  *ent_b.mutable_as_of_time() = At(S(2025, 7, 1, 0, 0, 0));
  ent_b.set_filter("customer_id=\"ent-b\"");
  auto filtered = acme_->ListStaleOpportunities(ent_b);
  ASSERT_TRUE(filtered.ok()) << filtered.status();
  EXPECT_THAT(StaleRows(*filtered), ElementsAre("o06 51/30", "o05 41/30"));

  // Thresholds of the pipeline itself: scene 45 days, the default 20. o09
  // 90 and o06 51 exceed 20; o05 41 and o11 20 stay under 45; o12 15 and
  // o04 10 under 20.
  v1::Pipeline pipeline = GetPipeline();
  ASSERT_EQ(pipeline.stages(0).id(), "scene");
  pipeline.mutable_stages(0)->set_stale_after_days(45);
  pipeline.set_default_stale_after_days(20);
  v1::UpdatePipelineRequest update;
  *update.mutable_pipeline() = pipeline;
  ASSERT_TRUE(acme_->UpdatePipeline(update).ok());
  v1::ListStaleOpportunitiesRequest by_pipeline;
  *by_pipeline.mutable_as_of_time() = At(S(2025, 7, 1, 0, 0, 0));
  auto configured = acme_->ListStaleOpportunities(by_pipeline);
  ASSERT_TRUE(configured.ok()) << configured.status();
  EXPECT_THAT(StaleRows(*configured), ElementsAre("o09 90/20", "o06 51/20"));

  // A per-stage threshold on a stage that is not open is refused.
  v1::ListStaleOpportunitiesRequest bad = by_pipeline;
  (*bad.mutable_stage_inactive_days())["won"] = 10;
  auto refused = acme_->ListStaleOpportunities(bad);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(refused.status()), "stage_inactive_days");
}

// GetDecisionMakerCoverage as of 2025-07-01 00:00 UTC with the default 90
// days: the window is 2025-04-02 00:00 .. 07-01 00:00. Open deals: o04,
// o05, o06, o09, o11, o12 (6).
//   o04  DM c-a1, in A1 (06-20)                    covered
//   o05  only c-b2 (COACH)                         NO_DECISION_MAKER
//   o06  DM c-b1, engaged in A4 but a BLOCKER      BLOCKER
//   o09  DM c-c1, last seen in A2 on 04-01 23:00,
//        one hour before the window               NOT_ENGAGED
//   o11  c-c2 linked as DM on this deal, in A3
//        (an account-level call on ent-c)         covered
//   o12  no contacts                               NO_DECISION_MAKER
// covered 2 / 6. Gaps by amount: o09 1,200,000, o06 800,000, o05 300,000,
// o12 90,000.
TEST_F(OpportunityTest, HandWorkedDecisionMakerCoverage) {
  ASSERT_NO_FATAL_FAILURE(LoadHandWorkedPipeline());
  v1::GetDecisionMakerCoverageRequest request;
  *request.mutable_as_of_time() = At(S(2025, 7, 1, 0, 0, 0));
  auto coverage = acme_->GetDecisionMakerCoverage(request);
  ASSERT_TRUE(coverage.ok()) << coverage.status();
  EXPECT_EQ(coverage->open_count(), 6);
  EXPECT_EQ(coverage->covered_count(), 2);
  EXPECT_EQ(coverage->no_decision_maker_count(), 2);
  EXPECT_EQ(coverage->not_engaged_count(), 1);
  EXPECT_EQ(coverage->blocker_count(), 1);
  EXPECT_NEAR(coverage->coverage_rate(), 1.0 / 3, 1e-12);
  EXPECT_THAT(
      GapRows(*coverage),
      ElementsAre("o09 DECISION_MAKER_GAP_REASON_NOT_ENGAGED [c-c1]",
                  "o06 DECISION_MAKER_GAP_REASON_BLOCKER [c-b1]",
                  "o05 DECISION_MAKER_GAP_REASON_NO_DECISION_MAKER []",
                  "o12 DECISION_MAKER_GAP_REASON_NO_DECISION_MAKER []"));
  EXPECT_EQ(coverage->next_page_token(), "");

  // Paged three at a time; the counts cover every open deal on each page.
  request.set_page_size(3);
  auto page1 = acme_->GetDecisionMakerCoverage(request);
  ASSERT_TRUE(page1.ok()) << page1.status();
  EXPECT_EQ(page1->gaps_size(), 3);
  EXPECT_EQ(page1->open_count(), 6);
  EXPECT_EQ(page1->covered_count(), 2);
  ASSERT_NE(page1->next_page_token(), "");
  request.set_page_token(page1->next_page_token());
  auto page2 = acme_->GetDecisionMakerCoverage(request);
  ASSERT_TRUE(page2.ok()) << page2.status();
  EXPECT_THAT(
      GapRows(*page2),
      ElementsAre("o12 DECISION_MAKER_GAP_REASON_NO_DECISION_MAKER []"));
  EXPECT_EQ(page2->open_count(), 6);
  EXPECT_EQ(page2->next_page_token(), "");

  // 91 days reach back to 04-01 00:00: A2 engages c-c1 and o09 is covered.
  v1::GetDecisionMakerCoverageRequest wider;
  *wider.mutable_as_of_time() = At(S(2025, 7, 1, 0, 0, 0));
  wider.set_engagement_days(91);
  auto covered = acme_->GetDecisionMakerCoverage(wider);
  ASSERT_TRUE(covered.ok()) << covered.status();
  EXPECT_EQ(covered->covered_count(), 3);
  EXPECT_EQ(covered->not_engaged_count(), 0);
  EXPECT_DOUBLE_EQ(covered->coverage_rate(), 0.5);

  // zhang.min's open deals: o04 and o11 covered, o12 without a DM.
  v1::GetDecisionMakerCoverageRequest zhang;
  *zhang.mutable_as_of_time() = At(S(2025, 7, 1, 0, 0, 0));
  zhang.set_filter("owner=\"zhang.min\"");
  auto owned = acme_->GetDecisionMakerCoverage(zhang);
  ASSERT_TRUE(owned.ok()) << owned.status();
  EXPECT_EQ(owned->open_count(), 3);
  EXPECT_EQ(owned->covered_count(), 2);
  EXPECT_EQ(owned->no_decision_maker_count(), 1);
  EXPECT_NEAR(owned->coverage_rate(), 2.0 / 3, 1e-12);

  // As of 2025-06-22 with 30 days (window 05-23 00:00 .. 06-22 00:00): A3
  // (06-25) has not happened yet, so o11 is not engaged; A2 (04-01) is too
  // old for o09; A1 (06-20) still covers o04.
  v1::GetDecisionMakerCoverageRequest earlier;
  *earlier.mutable_as_of_time() = At(S(2025, 6, 22, 0, 0, 0));
  earlier.set_engagement_days(30);
  auto before_call = acme_->GetDecisionMakerCoverage(earlier);
  ASSERT_TRUE(before_call.ok()) << before_call.status();
  EXPECT_EQ(before_call->open_count(), 6);
  EXPECT_EQ(before_call->covered_count(), 1);
  EXPECT_EQ(before_call->not_engaged_count(), 2);
  EXPECT_THAT(
      GapRows(*before_call),
      ElementsAre("o09 DECISION_MAKER_GAP_REASON_NOT_ENGAGED [c-c1]",
                  "o06 DECISION_MAKER_GAP_REASON_BLOCKER [c-b1]",
                  "o05 DECISION_MAKER_GAP_REASON_NO_DECISION_MAKER []",
                  "o11 DECISION_MAKER_GAP_REASON_NOT_ENGAGED [c-c2]",
                  "o12 DECISION_MAKER_GAP_REASON_NO_DECISION_MAKER []"));
  // engagement_days outside 1 .. 3650 is refused.
  earlier.set_engagement_days(3651);
  auto refused = acme_->GetDecisionMakerCoverage(earlier);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(refused.status()), "engagement_days");
}

// GetCalibratedProbabilities. Closed deals and the open stages their
// histories entered: o01 won (scene, pain, proposal), o02 lost (scene,
// problem), o03 won (guided_solution, negotiation; lost in between), o07
// won (scene), o08 lost (problem, pain), o10 won (guided_solution).
//   stage            samples  won  observed
//   scene               3      2   2/3     (o01, o02, o07)
//   problem             2      0   0       (o02, o08)
//   pain                2      1   1/2     (o01, o08)
//   guided_solution     2      2   1       (o03, o10)
//   proposal            1      1   1       (o01)
//   negotiation         1      1   1       (o03)
// With min_samples 2 the first four are observed, the last two fall back
// to their configured 0.50 and 0.75.
TEST_F(OpportunityTest, HandWorkedCalibratedProbabilities) {
  ASSERT_NO_FATAL_FAILURE(LoadHandWorkedPipeline());
  struct Expected {
    const char* stage;
    double configured;
    int32_t samples;
    int32_t won;
    double observed;
    double calibrated;
    v1::CalibrationSource source;
  };
  const auto check = [](const v1::GetCalibratedProbabilitiesResponse& r,
                        std::span<const Expected> expected) {
    ASSERT_EQ(r.stages_size(), static_cast<int>(expected.size()));
    for (size_t i = 0; i < expected.size(); ++i) {
      const Expected& e = expected[i];
      const v1::CalibratedStageProbability& s = r.stages(static_cast<int>(i));
      SCOPED_TRACE(e.stage);
      EXPECT_EQ(s.stage_id(), e.stage);
      EXPECT_DOUBLE_EQ(s.configured_probability(), e.configured);
      EXPECT_EQ(s.sample_count(), e.samples);
      EXPECT_EQ(s.won_count(), e.won);
      EXPECT_NEAR(s.observed_probability(), e.observed, 1e-12);
      EXPECT_NEAR(s.calibrated_probability(), e.calibrated, 1e-12);
      EXPECT_EQ(s.source(), e.source);
    }
  };
  constexpr auto kObserved = v1::CALIBRATION_SOURCE_OBSERVED;
  constexpr auto kConfigured = v1::CALIBRATION_SOURCE_CONFIGURED;

  v1::GetCalibratedProbabilitiesRequest request;
  request.set_min_samples(2);
  auto all = acme_->GetCalibratedProbabilities(request);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->closed_count(), 6);
  EXPECT_EQ(all->min_samples(), 2);
  const Expected kAll[] = {
      {"scene", 0.05, 3, 2, 2.0 / 3, 2.0 / 3, kObserved},
      {"problem", 0.10, 2, 0, 0, 0, kObserved},
      {"pain", 0.20, 2, 1, 0.5, 0.5, kObserved},
      {"guided_solution", 0.35, 2, 2, 1, 1, kObserved},
      {"proposal", 0.50, 1, 1, 1, 0.50, kConfigured},
      {"negotiation", 0.75, 1, 1, 1, 0.75, kConfigured},
  };
  check(*all, kAll);
  EXPECT_EQ(all->stages(0).display_name(), "Scene (场景)");

  // Closed in 2025-01-01 .. 06-30 only: o01, o02, o03, o08 (o07 closed in
  // 2024, o10 in July). scene o01 W, o02 L: 1/2; problem o02, o08: 0/2;
  // pain o01 W, o08 L: 1/2; guided o03 (1 sample), proposal o01,
  // negotiation o03: configured.
  *request.mutable_start_date() = ToDate(D(2025, 1, 1));
  *request.mutable_end_date() = ToDate(D(2025, 6, 30));
  auto period = acme_->GetCalibratedProbabilities(request);
  ASSERT_TRUE(period.ok()) << period.status();
  EXPECT_EQ(period->closed_count(), 4);
  const Expected kPeriod[] = {
      {"scene", 0.05, 2, 1, 0.5, 0.5, kObserved},
      {"problem", 0.10, 2, 0, 0, 0, kObserved},
      {"pain", 0.20, 2, 1, 0.5, 0.5, kObserved},
      {"guided_solution", 0.35, 1, 1, 1, 0.35, kConfigured},
      {"proposal", 0.50, 1, 1, 1, 0.50, kConfigured},
      {"negotiation", 0.75, 1, 1, 1, 0.75, kConfigured},
  };
  check(*period, kPeriod);

  // The default min_samples is 20: everything is configured.
  v1::GetCalibratedProbabilitiesRequest defaults;
  auto configured = acme_->GetCalibratedProbabilities(defaults);
  ASSERT_TRUE(configured.ok()) << configured.status();
  EXPECT_EQ(configured->min_samples(), 20);
  EXPECT_EQ(configured->closed_count(), 6);
  for (const auto& s : configured->stages()) {
    EXPECT_EQ(s.source(), kConfigured) << s.stage_id();
    EXPECT_DOUBLE_EQ(s.calibrated_probability(), s.configured_probability());
  }
  // A filter restricts the deals learned from: li.wei closed o01 W, o02 L,
  // o03 W -> scene 1/2.
  v1::GetCalibratedProbabilitiesRequest li;
  li.set_min_samples(1);
  li.set_filter("owner=\"li.wei\"");
  auto mine = acme_->GetCalibratedProbabilities(li);
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(mine->closed_count(), 3);
  ASSERT_GE(mine->stages_size(), 1);
  EXPECT_EQ(mine->stages(0).sample_count(), 2);
  EXPECT_DOUBLE_EQ(mine->stages(0).calibrated_probability(), 0.5);

  v1::GetCalibratedProbabilitiesRequest bad;
  bad.set_min_samples(100'001);
  auto refused = acme_->GetCalibratedProbabilities(bad);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(refused.status()), "min_samples");
}

// ---------------------------------------------------------------------------
// 3. Invalid moves and creations record nothing
// ---------------------------------------------------------------------------

TEST_F(OpportunityTest, InvalidMovesAndCreationsRecordNothing) {
  ASSERT_NO_FATAL_FAILURE(
      UpsertAccounts(*acme_, {{"gov-a", v1::CUSTOMER_KIND_GOVERNMENT}}));
  // x-won: negotiation 03-01, won 03-20. x-open: scene 03-05, problem 03-10.
  Create(DealRequest("x-won", "gov-a", "li.wei", 500'000, "negotiation",
                     S(2025, 3, 1, 12, 0, 0), D(2025, 3, 31)));
  {
    v1::ChangeOpportunityStageRequest win =
        MoveRequest("x-won", "won", S(2025, 3, 20, 12, 0, 0));
    win.set_close_reason("signed");
    Move(win);
  }
  Create(DealRequest("x-open", "gov-a", "li.wei", 200'000, "scene",
                     S(2025, 3, 5, 12, 0, 0), D(2025, 6, 30)));
  Move("x-open", "problem", S(2025, 3, 10, 12, 0, 0));
  ASSERT_FALSE(HasFailure());

  const v1::Opportunity won_before = Get("x-won");
  const v1::Opportunity open_before = Get("x-open");
  const v1::ListStageChangesResponse won_history = History("x-won");
  const v1::ListStageChangesResponse open_history = History("x-open");
  EXPECT_EQ(Path(won_history), "negotiation>won");
  EXPECT_EQ(won_before.status(), v1::OPPORTUNITY_STATUS_WON);
  EXPECT_EQ(won_before.close_reason(), "signed");
  EXPECT_EQ(Path(open_history), "scene>problem");
  const auto unchanged = [&](const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_TRUE(MessageDifferencer::Equals(Get("x-won"), won_before));
    EXPECT_TRUE(MessageDifferencer::Equals(Get("x-open"), open_before));
    EXPECT_TRUE(MessageDifferencer::Equals(History("x-won"), won_history));
    EXPECT_TRUE(MessageDifferencer::Equals(History("x-open"), open_history));
  };

  // Won -> negotiation without reopen.
  auto r = acme_->ChangeOpportunityStage(
      MoveRequest("x-won", "negotiation", S(2025, 4, 1, 12, 0, 0)));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Reason(r.status()), "FAILED_PRECONDITION");
  unchanged("won -> negotiation without reopen");
  // Won -> lost without reopen.
  r = acme_->ChangeOpportunityStage(
      MoveRequest("x-won", "lost", S(2025, 4, 1, 12, 0, 0)));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition));
  unchanged("won -> lost without reopen");
  // An unknown stage, and none at all.
  r = acme_->ChangeOpportunityStage(
      MoveRequest("x-open", "signed", S(2025, 4, 1, 12, 0, 0)));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(r.status()), "to_stage_id");
  r = acme_->ChangeOpportunityStage(
      MoveRequest("x-open", "", S(2025, 4, 1, 12, 0, 0)));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(r.status()), "to_stage_id");
  unchanged("unknown stage");
  // reopen on an open deal.
  v1::ChangeOpportunityStageRequest reopen_open =
      MoveRequest("x-open", "pain", S(2025, 4, 1, 12, 0, 0));
  reopen_open.set_reopen(true);
  r = acme_->ChangeOpportunityStage(reopen_open);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(r.status()), "reopen");
  unchanged("reopen on an open deal");
  // The stage it is already in.
  r = acme_->ChangeOpportunityStage(
      MoveRequest("x-open", "problem", S(2025, 4, 1, 12, 0, 0)));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition));
  unchanged("same stage");
  // change_time before the latest change (03-10 12:00), or in the future.
  r = acme_->ChangeOpportunityStage(
      MoveRequest("x-open", "pain", S(2025, 3, 10, 11, 59, 59)));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(r.status()), "change_time");
  v1::ChangeOpportunityStageRequest future =
      MoveRequest("x-open", "pain", S(2025, 4, 1, 12, 0, 0));
  *future.mutable_change_time() = Ts(absl::Now() + absl::Hours(1));
  r = acme_->ChangeOpportunityStage(future);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(r.status()), "change_time");
  unchanged("change_time");
  // A probability override outside [0, 1].
  v1::ChangeOpportunityStageRequest too_likely =
      MoveRequest("x-open", "pain", S(2025, 4, 1, 12, 0, 0));
  too_likely.mutable_probability_override()->set_value(1.2);
  r = acme_->ChangeOpportunityStage(too_likely);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(r.status()), "probability_override");
  // No such opportunity.
  r = acme_->ChangeOpportunityStage(
      MoveRequest("x-ghost", "pain", S(2025, 4, 1, 12, 0, 0)));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kNotFound));
  unchanged("bad override, unknown opportunity");

  // Creations that fail store nothing.
  const auto creation_fails = [&](v1::CreateOpportunityRequest request,
                                  absl::StatusCode code) {
    auto created = acme_->CreateOpportunity(request);
    EXPECT_THAT(created, StatusIs(code));
    return created.status();
  };
  v1::CreateOpportunityRequest negative =
      DealRequest("x-negative", "gov-a", "li.wei", 0, "",
                  S(2025, 3, 1, 0, 0, 0), D(2025, 6, 30));
  negative.mutable_opportunity()->mutable_amount()->set_amount_micros(-1);
  EXPECT_THAT(ViolatedField(
                  creation_fails(negative, absl::StatusCode::kInvalidArgument)),
              AnyOf("opportunity.amount", "opportunity.amount.amount_micros"));
  v1::CreateOpportunityRequest month13 =
      DealRequest("x-month13", "gov-a", "li.wei", 10, "",
                  S(2025, 3, 1, 0, 0, 0), D(2025, 6, 30));
  month13.mutable_opportunity()->mutable_expected_close_date()->set_month(13);
  EXPECT_EQ(ViolatedField(
                creation_fails(month13, absl::StatusCode::kInvalidArgument)),
            "opportunity.expected_close_date");
  v1::CreateOpportunityRequest no_close =
      DealRequest("x-no-close", "gov-a", "li.wei", 10, "",
                  S(2025, 3, 1, 0, 0, 0), D(2025, 6, 30));
  no_close.mutable_opportunity()->clear_expected_close_date();
  EXPECT_EQ(ViolatedField(
                creation_fails(no_close, absl::StatusCode::kInvalidArgument)),
            "opportunity.expected_close_date");
  v1::CreateOpportunityRequest bad_stage =
      DealRequest("x-bad-stage", "gov-a", "li.wei", 10, "signed",
                  S(2025, 3, 1, 0, 0, 0), D(2025, 6, 30));
  EXPECT_EQ(ViolatedField(
                creation_fails(bad_stage, absl::StatusCode::kInvalidArgument)),
            "opportunity.stage_id");
  const absl::Status ghost =
      creation_fails(DealRequest("x-ghost", "no-such-account", "li.wei", 10, "",
                                 S(2025, 3, 1, 0, 0, 0), D(2025, 6, 30)),
                     absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(ghost), "NOT_FOUND");
  // A taken id.
  EXPECT_EQ(
      Reason(creation_fails(DealRequest("x-open", "gov-a", "zhang.min", 10, "",
                                        S(2025, 3, 1, 0, 0, 0), D(2025, 6, 30)),
                            absl::StatusCode::kAlreadyExists)),
      "ALREADY_EXISTS");
  // (The order of lists is checked in ListOrderFollowsTheContract.)
  EXPECT_THAT(Ids(ListDeals()), UnorderedElementsAre("x-won", "x-open"));
  for (const char* id :
       {"x-negative", "x-month13", "x-no-close", "x-bad-stage", "x-ghost"}) {
    EXPECT_THAT(acme_->GetOpportunity(id),
                StatusIs(absl::StatusCode::kNotFound))
        << id;
  }
  unchanged("failed creations");

  // The valid moves still work afterwards: a move at exactly the latest
  // change time, and a reopen of the won deal, which clears its close time.
  const v1::ChangeOpportunityStageResponse same_time =
      Move("x-open", "pain", S(2025, 3, 10, 12, 0, 0));
  EXPECT_EQ(same_time.opportunity().stage_id(), "pain");
  v1::ChangeOpportunityStageRequest reopen =
      MoveRequest("x-won", "negotiation", S(2025, 4, 1, 12, 0, 0));
  reopen.set_reopen(true);
  const v1::ChangeOpportunityStageResponse reopened = Move(reopen);
  EXPECT_TRUE(reopened.stage_change().reopen());
  EXPECT_EQ(reopened.stage_change().from_stage_id(), "won");
  EXPECT_EQ(reopened.opportunity().status(), v1::OPPORTUNITY_STATUS_OPEN);
  EXPECT_FALSE(reopened.opportunity().has_close_time());
  EXPECT_DOUBLE_EQ(reopened.opportunity().probability(), 0.75);
  EXPECT_EQ(Path(History("x-won")), "negotiation>won>negotiation(reopen)");
}

// ---------------------------------------------------------------------------
// 4. Idempotent retries
// ---------------------------------------------------------------------------

TEST_F(OpportunityTest, RetriesWithTheSameRequestIdRecordNothingNew) {
  ASSERT_NO_FATAL_FAILURE(
      UpsertAccounts(*acme_, {{"gov-a", v1::CUSTOMER_KIND_GOVERNMENT}}));

  // CreateOpportunity with a server-assigned id.
  v1::CreateOpportunityRequest create =
      DealRequest("", "gov-a", "li.wei", 50'000, "", S(2025, 3, 1, 12, 0, 0),
                  D(2025, 6, 30));
  create.set_request_id("create-1");
  auto first = acme_->CreateOpportunity(create);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->id().empty());
  EXPECT_EQ(first->stage_id(), "scene");  // The first open stage.
  EXPECT_DOUBLE_EQ(first->probability(), 0.05);
  auto again = acme_->CreateOpportunity(create);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*again, *first))
      << again->DebugString();
  EXPECT_THAT(Ids(ListDeals()), ElementsAre(first->id()));
  const std::string id = first->id();
  EXPECT_EQ(Path(History(id)), "scene");

  // ChangeOpportunityStage: the retry returns the first result instead of
  // failing as "already in stage".
  v1::ChangeOpportunityStageRequest move =
      MoveRequest(id, "problem", S(2025, 3, 2, 12, 0, 0));
  move.set_request_id("move-1");
  auto moved = acme_->ChangeOpportunityStage(move);
  ASSERT_TRUE(moved.ok()) << moved.status();
  auto moved_again = acme_->ChangeOpportunityStage(move);
  ASSERT_TRUE(moved_again.ok()) << moved_again.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*moved_again, *moved))
      << moved_again->DebugString();
  EXPECT_EQ(Path(History(id)), "scene>problem");
  // Without the key, the same move is a FAILED_PRECONDITION.
  move.clear_request_id();
  EXPECT_THAT(acme_->ChangeOpportunityStage(move),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Path(History(id)), "scene>problem");

  // LogActivity.
  v1::LogActivityRequest log =
      ActivityRequest("first visit", "gov-a", id, v1::SALES_ACTIVITY_KIND_VISIT,
                      S(2025, 3, 3, 9, 30, 0), {}, "li.wei");
  log.set_request_id("visit-1");
  auto logged = acme_->LogActivity(log);
  ASSERT_TRUE(logged.ok()) << logged.status();
  EXPECT_FALSE(logged->id().empty());
  auto logged_again = acme_->LogActivity(log);
  ASSERT_TRUE(logged_again.ok()) << logged_again.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*logged_again, *logged))
      << logged_again->DebugString();
  const v1::ListActivitiesResponse activities = ListActivities();
  ASSERT_EQ(activities.activities_size(), 1);
  EXPECT_EQ(activities.activities(0).id(), logged->id());
  EXPECT_EQ(TimeOf(Get(id).last_activity_time()),
            UtcTime(S(2025, 3, 3, 9, 30, 0)));
  // The opportunity is as the move left it, apart from the activity time.
  v1::Opportunity now = Get(id);
  EXPECT_EQ(now.stage_id(), "problem");
  EXPECT_EQ(ListDeals().opportunities_size(), 1);
}

// ---------------------------------------------------------------------------
// 5. Updates, overrides, activity times, contacts, filters and paging
// ---------------------------------------------------------------------------

TEST_F(OpportunityTest, ListFiltersAndPaging) {
  ASSERT_NO_FATAL_FAILURE(LoadHandWorkedPipeline());

  // Opportunities.
  EXPECT_THAT(Ids(ListDeals("status=OPEN AND owner=\"li.wei\"")),
              UnorderedElementsAre("o05", "o06", "o09"));
  EXPECT_THAT(Ids(ListDeals("expected_close_date>=\"2025-08-01\"")),
              UnorderedElementsAre("o04", "o06", "o12"));
  EXPECT_THAT(Ids(ListDeals("expected_close_date>=\"2025-07-01\" AND "
                            "expected_close_date<\"2025-08-01\"")),
              UnorderedElementsAre("o05", "o09", "o10"));
  EXPECT_THAT(Ids(ListDeals("status=WON")),
              UnorderedElementsAre("o01", "o03", "o07", "o10"));
  EXPECT_THAT(Ids(ListDeals("status=LOST AND customer_id=\"ent-b\"")),
              UnorderedElementsAre("o08"));
  EXPECT_THAT(Ids(ListDeals("stage_id=\"negotiation\"")),
              UnorderedElementsAre("o06", "o09"));
  EXPECT_THAT(Ids(ListDeals("owner!=\"li.wei\" AND status!=WON")),
              UnorderedElementsAre("o04", "o08", "o11", "o12"));
  // Paged four at a time, in creation order (o01 .. o12 were created in
  // that order).
  const v1::ListOpportunitiesResponse open1 = ListDeals("status=OPEN", 4);
  EXPECT_THAT(Ids(open1), ElementsAre("o04", "o05", "o06", "o09"));
  ASSERT_NE(open1.next_page_token(), "");
  const v1::ListOpportunitiesResponse open2 =
      ListDeals("status=OPEN", 4, open1.next_page_token());
  EXPECT_THAT(Ids(open2), ElementsAre("o11", "o12"));
  EXPECT_EQ(open2.next_page_token(), "");
  ASSERT_EQ(open2.opportunities_size(), 2);
  EXPECT_EQ(open2.opportunities(1).amount().currency_code(), "USD");

  // Contacts.
  EXPECT_THAT(Ids(ListContacts("buying_role=DECISION_MAKER")),
              UnorderedElementsAre("c-a1", "c-b1", "c-c1"));
  EXPECT_THAT(Ids(ListContacts("customer_id=\"ent-b\" AND attitude=BLOCKER")),
              UnorderedElementsAre("c-b1"));
  EXPECT_THAT(Ids(ListContacts("buying_role!=DECISION_MAKER AND "
                               "customer_id=\"ent-c\"")),
              UnorderedElementsAre("c-c2"));
  const v1::ListContactsResponse contacts1 = ListContacts("", 4);
  EXPECT_EQ(contacts1.contacts_size(), 4);
  ASSERT_NE(contacts1.next_page_token(), "");
  const v1::ListContactsResponse contacts2 =
      ListContacts("", 4, contacts1.next_page_token());
  EXPECT_EQ(contacts2.contacts_size(), 2);
  EXPECT_EQ(contacts2.next_page_token(), "");

  // Activities, newest first: A3 06-25, A1 06-20, A6 06-01, A5 05-20, A4
  // 05-10, A2 04-01.
  EXPECT_THAT(Summaries(ListActivities()),
              ElementsAre("A3", "A1", "A6", "A5", "A4", "A2"));
  EXPECT_THAT(Summaries(ListActivities("kind=VISIT")), ElementsAre("A1", "A2"));
  EXPECT_THAT(Summaries(ListActivities(
                  "kind=VISIT AND occur_time>=\"2025-06-01T00:00:00Z\"")),
              ElementsAre("A1"));
  EXPECT_THAT(Summaries(ListActivities("opportunity_id=\"o04\"")),
              ElementsAre("A1", "A6"));
  EXPECT_THAT(Summaries(ListActivities("contact_id=\"c-b2\"")),
              ElementsAre("A5", "A4"));
  EXPECT_THAT(Summaries(ListActivities("owner=\"zhang.min\" AND "
                                       "occur_time<\"2025-06-20T10:00:00Z\"")),
              ElementsAre("A6"));
  const v1::ListActivitiesResponse activities1 = ListActivities("", 4);
  EXPECT_THAT(Summaries(activities1), ElementsAre("A3", "A1", "A6", "A5"));
  ASSERT_NE(activities1.next_page_token(), "");
  const v1::ListActivitiesResponse activities2 =
      ListActivities("", 4, activities1.next_page_token());
  EXPECT_THAT(Summaries(activities2), ElementsAre("A4", "A2"));
  EXPECT_EQ(activities2.next_page_token(), "");

  // Bad filters: unknown fields, OR, ordering on a string, bad dates and
  // times, a missing value. INVALID_ARGUMENT naming `filter`.
  for (const char* filter :
       {"colour=\"red\"", "status=OPEN OR owner=\"li.wei\"", "owner>\"a\"",
        "expected_close_date>=\"2025-13-01\"", "owner=", "status=MAYBE"}) {
    SCOPED_TRACE(filter);
    v1::ListOpportunitiesRequest request;
    request.set_filter(filter);
    auto result = acme_->ListOpportunities(request);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(ViolatedField(result.status()), "filter");
  }
  {
    v1::ListContactsRequest request;
    request.set_filter("name=\"Wang Ju\"");
    auto result = acme_->ListContacts(request);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(ViolatedField(result.status()), "filter");
  }
  {
    v1::ListActivitiesRequest request;
    request.set_filter("occur_time>=\"yesterday\"");
    auto result = acme_->ListActivities(request);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(ViolatedField(result.status()), "filter");
  }
  {
    v1::GetPipelineSummaryRequest request;
    request.set_filter("amount>5");
    auto result = acme_->GetPipelineSummary(request);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(ViolatedField(result.status()), "filter");
  }
}

TEST_F(OpportunityTest, ListOrderFollowsTheContract) {
  ASSERT_NO_FATAL_FAILURE(LoadHandWorkedPipeline());
  // ListOpportunities: by creation time, oldest first, then id. "a-late"
  // is created last although its id sorts first.
  Create(DealRequest("a-late", "ent-b", "li.wei", 1'000, "",
                     S(2025, 6, 1, 12, 0, 0), D(2025, 12, 31)));
  EXPECT_THAT(Ids(ListDeals()),
              ElementsAre("o01", "o02", "o03", "o04", "o05", "o06", "o07",
                          "o08", "o09", "o10", "o11", "o12", "a-late"));
  // ListContacts: by account, then name. ent-b: Qian Jingli (c-b2), Zhao
  // Zong (c-b1); ent-c: Sun Zong (c-c1), Zhou Gong (c-c2); gov-a: Li Zhuren
  // (c-a2), Wang Ju (c-a1).
  EXPECT_THAT(Ids(ListContacts()),
              ElementsAre("c-b2", "c-b1", "c-c1", "c-c2", "c-a2", "c-a1"));
}

TEST_F(OpportunityTest, UpdatesOverridesActivityTimesAndContacts) {
  ASSERT_NO_FATAL_FAILURE(LoadHandWorkedPipeline());

  // o05 is in scene (0.05) without an override. Set one by mask ...
  v1::UpdateOpportunityRequest set_override;
  set_override.mutable_opportunity()->set_id("o05");
  set_override.mutable_opportunity()->mutable_probability_override()->set_value(
      0.65);
  set_override.mutable_opportunity()->set_title("not in the mask");
  set_override.mutable_update_mask()->add_paths("probability_override");
  auto overridden = acme_->UpdateOpportunity(set_override);
  ASSERT_TRUE(overridden.ok()) << overridden.status();
  EXPECT_TRUE(overridden->has_probability_override());
  EXPECT_DOUBLE_EQ(overridden->probability_override().value(), 0.65);
  EXPECT_DOUBLE_EQ(overridden->probability(), 0.65);
  EXPECT_EQ(overridden->title(), "Deal o05");
  EXPECT_TRUE(MessageDifferencer::Equals(Get("o05"), *overridden));
  // ... and clear it by naming it with the value unset.
  v1::UpdateOpportunityRequest clear_override;
  clear_override.mutable_opportunity()->set_id("o05");
  clear_override.mutable_update_mask()->add_paths("probability_override");
  auto cleared = acme_->UpdateOpportunity(clear_override);
  ASSERT_TRUE(cleared.ok()) << cleared.status();
  EXPECT_FALSE(cleared->has_probability_override());
  EXPECT_DOUBLE_EQ(cleared->probability(), 0.05);
  // Other fields by mask; the ones not named are kept.
  v1::UpdateOpportunityRequest fields;
  v1::Opportunity& change = *fields.mutable_opportunity();
  change.set_id("o05");
  change.set_title("Smart campus, phase 2");
  change.mutable_amount()->set_amount_micros(Yuan(350'000));
  change.add_competitors("Vendor X");
  change.set_notes("not in the mask");
  fields.mutable_update_mask()->add_paths("title");
  fields.mutable_update_mask()->add_paths("amount");
  fields.mutable_update_mask()->add_paths("competitors");
  auto updated = acme_->UpdateOpportunity(fields);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->title(), "Smart campus, phase 2");
  EXPECT_EQ(updated->amount().amount_micros(), Yuan(350'000));
  EXPECT_THAT(updated->competitors(), ElementsAre("Vendor X"));
  EXPECT_EQ(updated->notes(), "");
  EXPECT_EQ(updated->stage_id(), "scene");
  EXPECT_EQ(updated->owner(), "li.wei");
  EXPECT_EQ(TimeOf(updated->open_time()), UtcTime(S(2025, 5, 1, 12, 0, 0)));
  // Paths that cannot be updated, and an empty mask: INVALID_ARGUMENT on
  // update_mask, nothing changed.
  const v1::Opportunity before = Get("o05");
  for (const char* path :
       {"no_such_field", "stage_id", "customer_id", "status", "open_time"}) {
    SCOPED_TRACE(path);
    v1::UpdateOpportunityRequest bad;
    bad.mutable_opportunity()->set_id("o05");
    bad.mutable_opportunity()->set_stage_id("won");
    bad.mutable_opportunity()->set_customer_id("ent-c");
    bad.mutable_update_mask()->add_paths(path);
    auto result = acme_->UpdateOpportunity(bad);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(ViolatedField(result.status()), "update_mask");
  }
  {
    v1::UpdateOpportunityRequest empty_mask;
    empty_mask.mutable_opportunity()->set_id("o05");
    empty_mask.mutable_opportunity()->set_title("x");
    auto result = acme_->UpdateOpportunity(empty_mask);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(ViolatedField(result.status()), "update_mask");
  }
  EXPECT_TRUE(MessageDifferencer::Equals(Get("o05"), before));

  // A stage change clears an override unless it sets a new one.
  ASSERT_TRUE(acme_->UpdateOpportunity(set_override).ok());
  const v1::ChangeOpportunityStageResponse to_problem =
      Move("o05", "problem", S(2025, 6, 20, 12, 0, 0));
  EXPECT_FALSE(to_problem.opportunity().has_probability_override());
  EXPECT_DOUBLE_EQ(to_problem.opportunity().probability(), 0.10);
  EXPECT_DOUBLE_EQ(to_problem.stage_change().probability(), 0.10);
  v1::ChangeOpportunityStageRequest with_override =
      MoveRequest("o05", "pain", S(2025, 6, 21, 12, 0, 0));
  with_override.mutable_probability_override()->set_value(0.3);
  const v1::ChangeOpportunityStageResponse to_pain = Move(with_override);
  EXPECT_DOUBLE_EQ(to_pain.opportunity().probability_override().value(), 0.3);
  EXPECT_DOUBLE_EQ(to_pain.opportunity().probability(), 0.3);
  EXPECT_DOUBLE_EQ(to_pain.stage_change().probability(), 0.3);
  EXPECT_EQ(TimeOf(to_pain.opportunity().stage_enter_time()),
            UtcTime(S(2025, 6, 21, 12, 0, 0)));
  EXPECT_TRUE(MessageDifferencer::Equals(Get("o05"), to_pain.opportunity()));

  // last_activity_time follows the latest occur_time of the deal's
  // activities: o05's is A5 (05-20 12:00); an older one does not move it, a
  // newer one does, an account-level one does not.
  EXPECT_EQ(TimeOf(Get("o05").last_activity_time()),
            UtcTime(S(2025, 5, 20, 12, 0, 0)));
  Log(ActivityRequest("older call", "ent-b", "o05",
                      v1::SALES_ACTIVITY_KIND_CALL, S(2025, 5, 15, 12, 0, 0),
                      {}, "li.wei"));
  EXPECT_EQ(TimeOf(Get("o05").last_activity_time()),
            UtcTime(S(2025, 5, 20, 12, 0, 0)));
  Log(ActivityRequest("newer meeting", "ent-b", "o05",
                      v1::SALES_ACTIVITY_KIND_MEETING, S(2025, 6, 28, 12, 0, 0),
                      {"c-b2"}, "li.wei"));
  EXPECT_EQ(TimeOf(Get("o05").last_activity_time()),
            UtcTime(S(2025, 6, 28, 12, 0, 0)));
  Log(ActivityRequest("account dinner", "ent-b", "",
                      v1::SALES_ACTIVITY_KIND_GIFT, S(2025, 6, 29, 12, 0, 0),
                      {}, "li.wei"));
  EXPECT_EQ(TimeOf(Get("o05").last_activity_time()),
            UtcTime(S(2025, 6, 28, 12, 0, 0)));
  // An activity naming a deal of another account is refused.
  auto mismatched = acme_->LogActivity(ActivityRequest(
      "wrong deal", "ent-b", "o04", v1::SALES_ACTIVITY_KIND_CALL,
      S(2025, 6, 29, 12, 0, 0), {}, "li.wei"));
  EXPECT_THAT(mismatched, StatusIs(absl::StatusCode::kInvalidArgument));

  // Linking: a contact of another account is a FAILED_PRECONDITION;
  // re-linking replaces the role; unlinking a contact that is not linked is
  // OK and changes nothing.
  v1::LinkOpportunityContactRequest foreign;
  foreign.set_opportunity_id("o05");
  foreign.mutable_link()->set_contact_id("c-a2");
  EXPECT_THAT(acme_->LinkOpportunityContact(foreign),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  const v1::Opportunity relinked =
      Link("o05", "c-b2", v1::CONTACT_BUYING_ROLE_INFLUENCER);
  ASSERT_EQ(relinked.contacts_size(), 1);
  EXPECT_EQ(relinked.contacts(0).role(), v1::CONTACT_BUYING_ROLE_INFLUENCER);
  auto not_linked = acme_->UnlinkOpportunityContact("o05", "c-b1");
  EXPECT_TRUE(not_linked.ok()) << not_linked.status();
  EXPECT_THAT(ContactIdsOf(Get("o05")), ElementsAre("c-b2"));
  auto unlinked = acme_->UnlinkOpportunityContact("o05", "c-b2");
  ASSERT_TRUE(unlinked.ok()) << unlinked.status();
  EXPECT_THAT(unlinked->contacts(), IsEmpty());

  // DeleteContact removes the contact, its links to deals and its mentions
  // in activities; the activities themselves stay.
  EXPECT_THAT(ContactIdsOf(Get("o04")), ElementsAre("c-a1", "c-a2"));
  CUSTRA_ASSERT_OK(acme_->DeleteContact("c-a1"));
  EXPECT_THAT(acme_->GetContact("c-a1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ContactIdsOf(Get("o04")), ElementsAre("c-a2"));
  EXPECT_THAT(Summaries(ListActivities("contact_id=\"c-a1\"")), IsEmpty());
  const v1::ListActivitiesResponse on_o04 =
      ListActivities("opportunity_id=\"o04\"");
  EXPECT_THAT(Summaries(on_o04), ElementsAre("A1", "A6"));
  ASSERT_EQ(on_o04.activities_size(), 2);
  EXPECT_THAT(on_o04.activities(0).contact_ids(), IsEmpty());
  EXPECT_THAT(ContactIdsOf(Get("o04")), ElementsAre("c-a2"));
  EXPECT_THAT(acme_->DeleteContact("c-a1"),
              StatusIs(absl::StatusCode::kNotFound));
  // o04 has no decision maker any more.
  v1::GetDecisionMakerCoverageRequest coverage;
  *coverage.mutable_as_of_time() = At(S(2025, 7, 1, 0, 0, 0));
  coverage.set_filter("customer_id=\"gov-a\"");
  auto gov = acme_->GetDecisionMakerCoverage(coverage);
  ASSERT_TRUE(gov.ok()) << gov.status();
  EXPECT_EQ(gov->open_count(), 1);
  EXPECT_THAT(
      GapRows(*gov),
      ElementsAre("o04 DECISION_MAKER_GAP_REASON_NO_DECISION_MAKER []"));

  // UpdateContact by mask.
  v1::UpdateContactRequest update_contact;
  update_contact.mutable_contact()->set_id("c-b1");
  update_contact.mutable_contact()->set_attitude(v1::CONTACT_ATTITUDE_NEUTRAL);
  update_contact.mutable_contact()->set_name("not in the mask");
  update_contact.mutable_update_mask()->add_paths("attitude");
  auto contact = acme_->UpdateContact(update_contact);
  ASSERT_TRUE(contact.ok()) << contact.status();
  EXPECT_EQ(contact->attitude(), v1::CONTACT_ATTITUDE_NEUTRAL);
  EXPECT_EQ(contact->name(), "Zhao Zong");
  update_contact.mutable_update_mask()->set_paths(0, "customer_id");
  auto bad_contact = acme_->UpdateContact(update_contact);
  EXPECT_THAT(bad_contact, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(bad_contact.status()), "update_mask");

  // DeleteOpportunity removes it with its history; its activities stay,
  // detached.
  CUSTRA_ASSERT_OK(acme_->DeleteOpportunity("o06"));
  EXPECT_THAT(acme_->GetOpportunity("o06"),
              StatusIs(absl::StatusCode::kNotFound));
  v1::ListStageChangesRequest history;
  history.set_opportunity_id("o06");
  EXPECT_THAT(acme_->ListStageChanges(history),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Summaries(ListActivities("contact_id=\"c-b1\"")),
              ElementsAre("A4"));
  EXPECT_THAT(acme_->DeleteOpportunity("o06"),
              StatusIs(absl::StatusCode::kNotFound));
}

// ---------------------------------------------------------------------------
// 6. Tenant isolation and customer deletion
// ---------------------------------------------------------------------------

TEST_F(OpportunityTest, TenantsAreIsolatedAndCustomerDeletionErases) {
  ASSERT_NO_FATAL_FAILURE(LoadHandWorkedPipeline());
  v1::SetAccountTrustRequest trust;
  trust.set_customer_id("gov-a");
  trust.set_level(v1::ACCOUNT_TRUST_LEVEL_VALUE);
  trust.set_actor("li.wei");
  ASSERT_TRUE(acme_->SetAccountTrust(trust).ok());
  v1::Pipeline renamed = GetPipeline();
  renamed.mutable_stages(0)->set_display_name("Scene");
  v1::UpdatePipelineRequest rename;
  *rename.mutable_pipeline() = renamed;
  ASSERT_TRUE(acme_->UpdatePipeline(rename).ok());

  std::string globex_key;
  std::unique_ptr<Client> globex = NewTenant("globex", &globex_key);
  // globex sees none of acme's records.
  EXPECT_THAT(ListDeals("", 0, "", globex.get()).opportunities(), IsEmpty());
  EXPECT_THAT(ListContacts("", 0, "", globex.get()).contacts(), IsEmpty());
  EXPECT_THAT(ListActivities("", 0, "", globex.get()).activities(), IsEmpty());
  EXPECT_THAT(globex->GetOpportunity("o01"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(globex->GetContact("c-a1"),
              StatusIs(absl::StatusCode::kNotFound));
  v1::ListStageChangesRequest history;
  history.set_opportunity_id("o03");
  EXPECT_THAT(globex->ListStageChanges(history),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(globex->GetAccountTrust("gov-a"),
              StatusIs(absl::StatusCode::kNotFound));
  // Its pipeline is still the default one, and its reports are empty.
  const v1::Pipeline globex_pipeline = GetPipeline(globex.get());
  EXPECT_FALSE(globex_pipeline.has_update_time());
  ASSERT_GE(globex_pipeline.stages_size(), 1);
  EXPECT_EQ(globex_pipeline.stages(0).display_name(), "Scene (场景)");
  v1::GetPipelineSummaryRequest summary;
  *summary.mutable_start_date() = ToDate(D(2025, 1, 1));
  *summary.mutable_end_date() = ToDate(D(2025, 6, 30));
  auto globex_summary = globex->GetPipelineSummary(summary);
  ASSERT_TRUE(globex_summary.ok()) << globex_summary.status();
  EXPECT_EQ(globex_summary->total().open_total().count(), 0);
  EXPECT_EQ(globex_summary->total().won_count(), 0);
  v1::GetDecisionMakerCoverageRequest coverage;
  *coverage.mutable_as_of_time() = At(S(2025, 7, 1, 0, 0, 0));
  auto globex_coverage = globex->GetDecisionMakerCoverage(coverage);
  ASSERT_TRUE(globex_coverage.ok()) << globex_coverage.status();
  EXPECT_EQ(globex_coverage->open_count(), 0);
  v1::ListStaleOpportunitiesRequest stale;
  *stale.mutable_as_of_time() = At(S(2025, 7, 1, 0, 0, 0));
  auto globex_stale = globex->ListStaleOpportunities(stale);
  ASSERT_TRUE(globex_stale.ok()) << globex_stale.status();
  EXPECT_THAT(globex_stale->stale_opportunities(), IsEmpty());
  // acme's accounts do not exist in globex.
  EXPECT_THAT(globex->CreateOpportunity(
                  DealRequest("g1", "gov-a", "wu.fang", 10, "",
                              S(2025, 3, 1, 0, 0, 0), D(2025, 6, 30))),
              StatusIs(absl::StatusCode::kNotFound));
  // Ids are per tenant: globex may use "o01" on its own "gov-a".
  ASSERT_NO_FATAL_FAILURE(
      UpsertAccounts(*globex, {{"gov-a", v1::CUSTOMER_KIND_GOVERNMENT}}));
  auto own = globex->CreateOpportunity(
      DealRequest("o01", "gov-a", "wu.fang", 10, "", S(2025, 3, 1, 0, 0, 0),
                  D(2025, 6, 30)));
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(Get("o01").owner(), "li.wei");
  EXPECT_EQ(Get("o01").status(), v1::OPPORTUNITY_STATUS_WON);
  EXPECT_EQ(ListDeals().opportunities_size(), 12);

  // globex's key cannot read acme.
  std::unique_ptr<Client> intruder = Connect("acme", globex_key);
  EXPECT_THAT(intruder->GetOpportunity("o01"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(intruder->ListOpportunities(v1::ListOpportunitiesRequest()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(intruder->ListContacts(v1::ListContactsRequest()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(intruder->ListActivities(v1::ListActivitiesRequest()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(intruder->GetPipelineSummary(summary),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Nor acme's key globex.
  EXPECT_THAT(Connect("globex", acme_key_)->GetOpportunity("o01"),
              StatusIs(absl::StatusCode::kPermissionDenied));

  // Deleting acme's customer gov-a erases o01 .. o04 with their histories,
  // contacts c-a1 and c-a2, activities A1 and A6 and the trust level;
  // ent-b and ent-c keep theirs, and globex's gov-a is untouched.
  auto deleted = acme_->DeleteCustomer("gov-a");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_THAT(Ids(ListDeals()), ElementsAre("o05", "o06", "o07", "o08", "o09",
                                            "o10", "o11", "o12"));
  EXPECT_THAT(Ids(ListContacts()),
              UnorderedElementsAre("c-b1", "c-b2", "c-c1", "c-c2"));
  EXPECT_THAT(Summaries(ListActivities()), ElementsAre("A3", "A5", "A4", "A2"));
  for (const char* id : {"o01", "o02", "o03", "o04"}) {
    EXPECT_THAT(acme_->GetOpportunity(id),
                StatusIs(absl::StatusCode::kNotFound))
        << id;
    v1::ListStageChangesRequest gone;
    gone.set_opportunity_id(id);
    EXPECT_THAT(acme_->ListStageChanges(gone),
                StatusIs(absl::StatusCode::kNotFound))
        << id;
  }
  EXPECT_THAT(acme_->GetContact("c-a1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(acme_->GetAccountTrust("gov-a"),
              StatusIs(absl::StatusCode::kNotFound));
  // A new customer with the same id starts empty.
  ASSERT_NO_FATAL_FAILURE(
      UpsertAccounts(*acme_, {{"gov-a", v1::CUSTOMER_KIND_GOVERNMENT}}));
  EXPECT_THAT(ListDeals("customer_id=\"gov-a\"").opportunities(), IsEmpty());
  EXPECT_THAT(ListContacts("customer_id=\"gov-a\"").contacts(), IsEmpty());
  EXPECT_THAT(ListActivities("customer_id=\"gov-a\"").activities(), IsEmpty());
  auto fresh_trust = acme_->GetAccountTrust("gov-a");
  ASSERT_TRUE(fresh_trust.ok()) << fresh_trust.status();
  EXPECT_EQ(fresh_trust->level(), v1::ACCOUNT_TRUST_LEVEL_UNSPECIFIED);
  // Reports no longer see the erased deals: only o08 is left among the
  // period's closes (lost), and li.wei's won deals are gone.
  auto after = acme_->GetPipelineSummary(summary);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->total().won_count(), 0);
  EXPECT_EQ(after->total().lost_count(), 1);
  EXPECT_EQ(after->total().open_total().count(), 4);  // o05 o06 o09 o11
  // globex's own o01 is still there.
  auto globex_o01 = globex->GetOpportunity("o01");
  ASSERT_TRUE(globex_o01.ok()) << globex_o01.status();
  EXPECT_EQ(globex_o01->owner(), "wu.fang");
}

}  // namespace
}  // namespace custra
