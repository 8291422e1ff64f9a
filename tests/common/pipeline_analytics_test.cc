#include "common/pipeline_analytics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "tests/testing/status_matchers.h"

namespace custra {
namespace {

using ::custra::testing::IsOk;
using ::custra::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr double kTol = 1e-9;
constexpr int64_t kMicros = 1'000'000;

// 2025-01-01 as a day number: 55 years of 365 days since 1970 plus the 14
// leap days 1972, 1976, ..., 2024 = 20075 + 14.
constexpr int64_t kD0 = 20089;

// Offsets from kD0 of month starts in 2025 (Jan 31, Feb 28, Mar 31, Apr 30,
// May 31, Jun 30 days): Apr 1 = 90, May 1 = 120, Jun 1 = 151, Jul 1 = 181.

std::string FieldOf(const absl::Status& status) {
  const std::vector<FieldViolation> v = FieldViolationsOf(status);
  return v.size() == 1 ? v[0].field : "";
}

// kD0 + days at hh:mm UTC.
absl::Time At(int64_t days, int hour = 0, int minute = 0) {
  return absl::FromUnixSeconds((kD0 + days) * 86400 + hour * 3600 +
                               minute * 60);
}

// A deal whose history follows `path` (stage, moment), the first entry
// being its creation; closed when the last stage is won or lost.
OpportunityFacts Deal(std::string id, std::string owner, std::string account,
                      int64_t units,
                      std::vector<std::pair<std::string, absl::Time>> path) {
  OpportunityFacts d;
  d.id = std::move(id);
  d.owner = std::move(owner);
  d.customer_id = std::move(account);
  d.amount_micros = units * kMicros;
  d.open_time = path.front().second;
  std::string from;
  for (const auto& [stage, time] : path) {
    d.history.push_back({time, from, stage});
    from = stage;
  }
  d.stage_id = from;
  if (from == "won" || from == "lost") d.close_time = path.back().second;
  return d;
}

PipelineDef FixturePipeline() {
  PipelineDef p = DefaultPipeline();
  // A stage "qualify" was removed and its deals moved to "problem".
  p.removed_stage_targets["qualify"] = "problem";
  return p;
}

// The hand-worked fixture. Default pipeline: scene 0.05, problem 0.10,
// pain 0.20, guided_solution 0.35, proposal 0.50, negotiation 0.75. Days
// are offsets from 2025-01-01 (d0); amounts in CNY units.
//
//   id   owner acct amount  history                                  now
//   o01  li    a1    100   scene 0, problem 10, pain 30, guided 50,   won
//                          proposal 70, negotiation 90, won 100
//   o02  li    a1    200   scene 5, pain 20, lost 40                  lost
//   o03  wang  a2    300   proposal -30, negotiation 20, won 60       won
//   o04  wang  a2    400   scene -100, lost -10                       lost
//   o05  li    a3    500   scene 60, problem 70, pain 80              pain
//   o06  li    a3    600   proposal 100, negotiation 120 (ovr 0.9)    nego
//   o07  wang  a4    700   scene 115                                  scene
//   o08  wang  a4    800   scene 10, guided 40, problem 60,           guided
//                          guided 90 (ovr 0.5)
//   o09  li    a5    900   negotiation 0, won 20, negotiation 30      won
//                          (reopened), won 45
//   o10  wang  a5   1000   proposal 10, in USD                        prop.
//   o11  li    a6   1100   scene 20, problem 30 12:00, lost 50        lost
//   o12  wang  a6   1200   qualify 0 (removed -> problem),            prop.
//                          proposal 30
//   o13  wang  a7   1300   scene 100, pain 110, lost 130              lost
std::vector<OpportunityFacts> Fixture() {
  std::vector<OpportunityFacts> d;
  d.push_back(Deal("o01", "li", "a1", 100,
                   {{"scene", At(0)},
                    {"problem", At(10)},
                    {"pain", At(30)},
                    {"guided_solution", At(50)},
                    {"proposal", At(70)},
                    {"negotiation", At(90)},
                    {"won", At(100)}}));
  d.push_back(Deal("o02", "li", "a1", 200,
                   {{"scene", At(5)}, {"pain", At(20)}, {"lost", At(40)}}));
  d.push_back(
      Deal("o03", "wang", "a2", 300,
           {{"proposal", At(-30)}, {"negotiation", At(20)}, {"won", At(60)}}));
  d.push_back(
      Deal("o04", "wang", "a2", 400, {{"scene", At(-100)}, {"lost", At(-10)}}));
  OpportunityFacts o05 =
      Deal("o05", "li", "a3", 500,
           {{"scene", At(60)}, {"problem", At(70)}, {"pain", At(80)}});
  o05.expected_close_day = kD0 + 150;  // 2025-05-31
  o05.last_activity_time = At(125);
  o05.contacts = {{"c1", BuyingRole::kDecisionMaker}};
  d.push_back(o05);
  OpportunityFacts o06 =
      Deal("o06", "li", "a3", 600,
           {{"proposal", At(100)}, {"negotiation", At(120)}});
  o06.probability_override = 0.9;
  o06.expected_close_day = kD0 + 180;  // 2025-06-30
  o06.contacts = {{"c2", BuyingRole::kDecisionMaker},
                  {"c1", BuyingRole::kDecisionMaker}};
  d.push_back(o06);
  OpportunityFacts o07 = Deal("o07", "wang", "a4", 700, {{"scene", At(115)}});
  o07.expected_close_day = kD0 + 151;  // 2025-06-01
  d.push_back(o07);
  OpportunityFacts o08 = Deal("o08", "wang", "a4", 800,
                              {{"scene", At(10)},
                               {"guided_solution", At(40)},
                               {"problem", At(60)},
                               {"guided_solution", At(90)}});
  o08.probability_override = 0.5;
  o08.expected_close_day = kD0 + 89;  // 2025-03-31
  o08.last_activity_time = At(100, 12);
  o08.contacts = {{"c3", BuyingRole::kDecisionMaker}};
  d.push_back(o08);
  d.push_back(Deal("o09", "li", "a5", 900,
                   {{"negotiation", At(0)},
                    {"won", At(20)},
                    {"negotiation", At(30)},
                    {"won", At(45)}}));
  OpportunityFacts o10 =
      Deal("o10", "wang", "a5", 1000, {{"proposal", At(10)}});
  o10.currency_code = "USD";
  o10.expected_close_day = kD0 + 130;  // 2025-05-11
  o10.last_activity_time = At(50);
  o10.contacts = {{"c4", BuyingRole::kEconomicBuyer}};
  d.push_back(o10);
  d.push_back(
      Deal("o11", "li", "a6", 1100,
           {{"scene", At(20)}, {"problem", At(30, 12)}, {"lost", At(50)}}));
  OpportunityFacts o12 = Deal("o12", "wang", "a6", 1200,
                              {{"qualify", At(0)}, {"proposal", At(30)}});
  o12.expected_close_day = kD0 + 119;  // 2025-04-30
  o12.last_activity_time = At(110);
  o12.contacts = {{"c6", BuyingRole::kDecisionMaker},
                  {"c5", BuyingRole::kDecisionMaker}};
  d.push_back(o12);
  d.push_back(Deal("o13", "wang", "a7", 1300,
                   {{"scene", At(100)}, {"pain", At(110)}, {"lost", At(130)}}));
  return d;
}

ReportCurrency Cny() { return {"CNY", "CNY"}; }

// The summary period of the fixture: 2025-01-01 .. 2025-04-30 (d0..d119).
SummaryOptions FixtureSummaryOptions() {
  SummaryOptions o;
  o.start_day = kD0;
  o.end_day = kD0 + 119;
  o.currency = Cny();
  return o;
}

const StageTotals& Totals(const SummaryGroup& g, const std::string& id) {
  for (const StageTotals& t : g.stages) {
    if (t.stage_id == id) return t;
  }
  ADD_FAILURE() << "no stage " << id;
  static const StageTotals kNone;
  return kNone;
}

const StageConversion& Conversion(const SummaryGroup& g,
                                  const std::string& id) {
  for (const StageConversion& c : g.conversions) {
    if (c.stage_id == id) return c;
  }
  ADD_FAILURE() << "no conversion " << id;
  static const StageConversion kNone;
  return kNone;
}

void ExpectTotals(const StageTotals& t, int64_t count, int64_t amount_units,
                  int64_t weighted_units) {
  EXPECT_EQ(t.count, count) << t.stage_id;
  EXPECT_EQ(t.amount_micros, amount_units * kMicros) << t.stage_id;
  EXPECT_EQ(t.weighted_amount_micros, weighted_units * kMicros) << t.stage_id;
}

void ExpectConversion(const StageConversion& c, int64_t entered,
                      int64_t advanced, int64_t lost, double rate,
                      double average_days, int64_t stays) {
  EXPECT_EQ(c.entered_count, entered) << c.stage_id;
  EXPECT_EQ(c.advanced_count, advanced) << c.stage_id;
  EXPECT_EQ(c.lost_count, lost) << c.stage_id;
  EXPECT_NEAR(c.conversion_rate, rate, kTol) << c.stage_id;
  EXPECT_NEAR(c.average_days_in_stage, average_days, kTol) << c.stage_id;
  EXPECT_EQ(c.completed_stay_count, stays) << c.stage_id;
}

// ---------------------------------------------------------------------------
// Days
// ---------------------------------------------------------------------------

TEST(PipelineDaysTest, DayNumbersMatchTheCalendar) {
  EXPECT_EQ(DayOfDate(1970, 1, 1), 0);
  EXPECT_EQ(DayOfDate(2025, 1, 1), kD0);
  EXPECT_EQ(DayOfDate(2025, 5, 31), kD0 + 150);
  EXPECT_EQ(UtcDay(At(3, 23, 59)), kD0 + 3);
  EXPECT_EQ(UtcDay(absl::FromUnixSeconds(-1)), -1);
  EXPECT_EQ(StartOfUtcDay(kD0), At(0));
}

TEST(PipelineDaysTest, OneYearBeforeKeepsTheDateAndClampsLeapDay) {
  // 2024 is a leap year: 2024-01-01 = 20089 - 366 = 19723.
  EXPECT_EQ(OneYearBefore(kD0), 19723);
  // 2024-02-29 = 19723 + 31 + 28 = 19782; 2023-02-28 = (19723 - 365) + 31 +
  // 27 = 19416.
  EXPECT_EQ(OneYearBefore(19782), 19416);
}

// ---------------------------------------------------------------------------
// Pipeline validation
// ---------------------------------------------------------------------------

TEST(ValidatePipelineTest, DefaultPipelineIsTheProtosAndValid) {
  const PipelineDef p = DefaultPipeline();
  CUSTRA_EXPECT_OK(ValidatePipeline(p));
  ASSERT_EQ(p.stages.size(), 8u);
  const std::vector<std::pair<std::string, double>> expected = {
      {"scene", 0.05},    {"problem", 0.10},
      {"pain", 0.20},     {"guided_solution", 0.35},
      {"proposal", 0.50}, {"negotiation", 0.75},
      {"won", 1.00},      {"lost", 0.00}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(p.stages[i].id, expected[i].first);
    EXPECT_EQ(p.stages[i].default_probability, expected[i].second);
    EXPECT_EQ(p.stages[i].stale_after_days, 0);
  }
  EXPECT_EQ(p.stages[2].display_name, "Pain (痛点)");
  EXPECT_EQ(p.stages[4].display_name, "Presentation / proposal (呈现 FABE)");
  EXPECT_EQ(p.stages[5].kind, StageKind::kOpen);
  EXPECT_EQ(p.stages[6].kind, StageKind::kWon);
  EXPECT_EQ(p.stages[7].kind, StageKind::kLost);
  EXPECT_EQ(p.default_stale_after_days, 30);
}

TEST(ValidatePipelineTest, StageCountMustBeThreeToThirty) {
  PipelineDef p = DefaultPipeline();
  p.stages = {p.stages[0], p.stages[6]};
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages");

  p = DefaultPipeline();
  p.stages = {p.stages[0], p.stages[6], p.stages[7]};
  CUSTRA_EXPECT_OK(ValidatePipeline(p));

  p = DefaultPipeline();
  std::vector<PipelineStageDef> stages;
  for (int i = 0; i < 29; ++i) {
    stages.push_back({absl::StrCat("s", i), "S", 0.1, StageKind::kOpen, 0});
  }
  stages.push_back(p.stages[6]);
  stages.push_back(p.stages[7]);
  p.stages = stages;  // 31 stages
  EXPECT_THAT(ValidatePipeline(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("31")));
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages");
}

TEST(ValidatePipelineTest, StageIdsMustMatchThePatternAndBeUnique) {
  PipelineDef p = DefaultPipeline();
  p.stages[1].id = "Problem";
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages[1].id");
  p.stages[1].id = "1problem";
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages[1].id");
  p.stages[1].id = std::string(33, 'a');
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages[1].id");
  p.stages[1].id = std::string(32, 'a');
  CUSTRA_EXPECT_OK(ValidatePipeline(p));

  p = DefaultPipeline();
  p.stages[3].id = "scene";
  const absl::Status s = ValidatePipeline(p);
  EXPECT_EQ(FieldOf(s), "pipeline.stages[3].id");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("pipeline.stages[0]")));
}

TEST(ValidatePipelineTest, DisplayNameHasOneToHundredCharacters) {
  PipelineDef p = DefaultPipeline();
  p.stages[2].display_name = "";
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages[2].display_name");
  // 100 CJK characters are 300 bytes, but 100 characters.
  std::string name;
  for (int i = 0; i < 100; ++i) name += "痛";
  p.stages[2].display_name = name;
  CUSTRA_EXPECT_OK(ValidatePipeline(p));
  p.stages[2].display_name = name + "点";
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages[2].display_name");
}

TEST(ValidatePipelineTest, ProbabilitiesAreInUnitRangeAndFixedForTerminals) {
  PipelineDef p = DefaultPipeline();
  p.stages[2].default_probability = 1.5;
  EXPECT_EQ(FieldOf(ValidatePipeline(p)),
            "pipeline.stages[2].default_probability");
  p.stages[2].default_probability = -0.1;
  EXPECT_EQ(FieldOf(ValidatePipeline(p)),
            "pipeline.stages[2].default_probability");
  p.stages[2].default_probability = std::nan("");
  EXPECT_EQ(FieldOf(ValidatePipeline(p)),
            "pipeline.stages[2].default_probability");
  p.stages[2].default_probability = 1.0;  // An open stage may say 1.
  CUSTRA_EXPECT_OK(ValidatePipeline(p));

  p = DefaultPipeline();
  p.stages[6].default_probability = 0.9;
  EXPECT_THAT(ValidatePipeline(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("won stage")));
  EXPECT_EQ(FieldOf(ValidatePipeline(p)),
            "pipeline.stages[6].default_probability");
  p = DefaultPipeline();
  p.stages[7].default_probability = 0.1;
  EXPECT_EQ(FieldOf(ValidatePipeline(p)),
            "pipeline.stages[7].default_probability");
}

TEST(ValidatePipelineTest, KindIsRequiredAndStagesAreOrderedOpenWonLost) {
  PipelineDef p = DefaultPipeline();
  p.stages[3].kind = StageKind::kUnspecified;
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages[3].kind");

  // An open stage after the terminal ones: ..., proposal, won, lost,
  // negotiation.
  p = DefaultPipeline();
  std::rotate(p.stages.begin() + 5, p.stages.begin() + 6, p.stages.end());
  EXPECT_THAT(ValidatePipeline(p),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("open stages come first")));
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages[7].kind");

  // Lost before won: reported on the won stage.
  p = DefaultPipeline();
  std::swap(p.stages[6], p.stages[7]);
  EXPECT_THAT(ValidatePipeline(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("before the lost")));
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages[7].kind");

  // A second won stage.
  p = DefaultPipeline();
  p.stages.insert(p.stages.begin() + 7,
                  {"won_again", "Won again", 1.0, StageKind::kWon, 0});
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages[7].kind");

  // A second lost stage.
  p = DefaultPipeline();
  p.stages.push_back({"lost_again", "Lost again", 0.0, StageKind::kLost, 0});
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages[8].kind");
}

TEST(ValidatePipelineTest, MissingOpenWonOrLostStageNamesTheStages) {
  PipelineDef p = DefaultPipeline();
  p.stages.erase(p.stages.begin() + 6);  // No won stage.
  EXPECT_THAT(ValidatePipeline(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("no won stage")));
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages");

  p = DefaultPipeline();
  p.stages.pop_back();  // No lost stage.
  EXPECT_THAT(ValidatePipeline(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("no lost stage")));

  p = DefaultPipeline();
  p.stages = {
      p.stages[6], p.stages[7], {"lost_2", "Lost 2", 0.0, StageKind::kLost, 0}};
  // The second lost stage is found before "no open stage".
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.stages[2].kind");
}

TEST(ValidatePipelineTest, StaleThresholdsAreZeroOrOneToThreeThousandSixFifty) {
  PipelineDef p = DefaultPipeline();
  p.stages[0].stale_after_days = 3650;
  p.default_stale_after_days = 0;  // Means 30.
  CUSTRA_EXPECT_OK(ValidatePipeline(p));
  p.stages[0].stale_after_days = 3651;
  EXPECT_EQ(FieldOf(ValidatePipeline(p)),
            "pipeline.stages[0].stale_after_days");
  p.stages[0].stale_after_days = -1;
  EXPECT_EQ(FieldOf(ValidatePipeline(p)),
            "pipeline.stages[0].stale_after_days");

  // Ignored for won and lost stages.
  p = DefaultPipeline();
  p.stages[6].stale_after_days = -5;
  CUSTRA_EXPECT_OK(ValidatePipeline(p));

  p = DefaultPipeline();
  p.default_stale_after_days = 3651;
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.default_stale_after_days");
  p.default_stale_after_days = -1;
  EXPECT_EQ(FieldOf(ValidatePipeline(p)), "pipeline.default_stale_after_days");
}

TEST(StageStaleAfterDaysTest, StageThresholdElsePipelineDefaultElseThirty) {
  PipelineDef p = DefaultPipeline();
  p.stages[2].stale_after_days = 7;
  p.default_stale_after_days = 45;
  EXPECT_EQ(StageStaleAfterDays(p, 2), 7);
  EXPECT_EQ(StageStaleAfterDays(p, 3), 45);
  p.default_stale_after_days = 0;
  EXPECT_EQ(StageStaleAfterDays(p, 3), 30);
}

// ---------------------------------------------------------------------------
// Stage moves
// ---------------------------------------------------------------------------

TEST(CheckStageMoveTest, OpenStagesMoveInAnyOrder) {
  const PipelineDef p = DefaultPipeline();
  CUSTRA_EXPECT_OK(CheckStageMove(p, "scene", "problem", false));
  CUSTRA_EXPECT_OK(CheckStageMove(p, "scene", "negotiation", false));
  CUSTRA_EXPECT_OK(CheckStageMove(p, "negotiation", "scene", false));
  CUSTRA_EXPECT_OK(CheckStageMove(p, "pain", "won", false));
  CUSTRA_EXPECT_OK(CheckStageMove(p, "scene", "lost", false));
}

TEST(CheckStageMoveTest, WonToNegotiationNeedsReopen) {
  const PipelineDef p = DefaultPipeline();
  EXPECT_THAT(
      CheckStageMove(p, "won", "negotiation", false),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("reopen")));
  CUSTRA_EXPECT_OK(CheckStageMove(p, "won", "negotiation", true));
}

TEST(CheckStageMoveTest, LostToWonNeedsReopen) {
  const PipelineDef p = DefaultPipeline();
  const absl::Status s = CheckStageMove(p, "lost", "won", false);
  EXPECT_THAT(
      s, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("reopen")));
  EXPECT_EQ(ReasonOf(s), "FAILED_PRECONDITION");
  CUSTRA_EXPECT_OK(CheckStageMove(p, "lost", "won", true));
  CUSTRA_EXPECT_OK(CheckStageMove(p, "won", "lost", true));
}

TEST(CheckStageMoveTest, UnknownOrEmptyTargetIsInvalidToStageId) {
  const PipelineDef p = DefaultPipeline();
  absl::Status s = CheckStageMove(p, "pain", "qualify", false);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(FieldOf(s), "to_stage_id");
  s = CheckStageMove(p, "pain", "", false);
  EXPECT_EQ(FieldOf(s), "to_stage_id");
  // The target is checked first, even for a closed deal without reopen.
  EXPECT_EQ(FieldOf(CheckStageMove(p, "won", "nowhere", false)), "to_stage_id");
}

TEST(CheckStageMoveTest, SameStageIsFailedPrecondition) {
  const PipelineDef p = DefaultPipeline();
  EXPECT_THAT(CheckStageMove(p, "pain", "pain", false),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("to_stage_id")));
  EXPECT_THAT(CheckStageMove(p, "won", "won", true),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already in stage")));
}

TEST(CheckStageMoveTest, ReopenOnAnOpenDealIsInvalidReopen) {
  const PipelineDef p = DefaultPipeline();
  const absl::Status s = CheckStageMove(p, "pain", "proposal", true);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(FieldOf(s), "reopen");
}

TEST(CheckStageMoveTest, CurrentStageOutsideThePipelineIsInternal) {
  EXPECT_THAT(CheckStageMove(DefaultPipeline(), "gone", "pain", false),
              StatusIs(absl::StatusCode::kInternal));
}

TEST(CheckStageChangeTimeTest, NotInTheFutureNorBeforeTheLatestChange) {
  CUSTRA_EXPECT_OK(CheckStageChangeTime(At(10), At(10), At(10)));
  EXPECT_EQ(FieldOf(CheckStageChangeTime(At(11), At(5), At(10))),
            "change_time");
  const absl::Status s = CheckStageChangeTime(At(4), At(5), At(10));
  EXPECT_EQ(FieldOf(s), "change_time");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("2025-01-06T00:00:00Z")));
}

// ---------------------------------------------------------------------------
// Probability and status
// ---------------------------------------------------------------------------

TEST(EffectiveProbabilityTest, OverrideElseDefaultWonOneLostZero) {
  const PipelineDef p = FixturePipeline();
  OpportunityFacts d;
  d.stage_id = "pain";
  EXPECT_DOUBLE_EQ(EffectiveProbability(p, d), 0.20);
  d.probability_override = 0.33;
  EXPECT_DOUBLE_EQ(EffectiveProbability(p, d), 0.33);
  d.stage_id = "won";
  EXPECT_DOUBLE_EQ(EffectiveProbability(p, d), 1.0);
  d.stage_id = "lost";
  EXPECT_DOUBLE_EQ(EffectiveProbability(p, d), 0.0);
  d.probability_override.reset();
  d.stage_id = "qualify";  // Removed, counts as problem.
  EXPECT_DOUBLE_EQ(EffectiveProbability(p, d), 0.10);
}

TEST(StatusOfTest, StatusIsTheKindOfTheCurrentStage) {
  const PipelineDef p = FixturePipeline();
  OpportunityFacts d;
  d.stage_id = "negotiation";
  EXPECT_EQ(StatusOf(p, d), DealStatus::kOpen);
  d.stage_id = "won";
  EXPECT_EQ(StatusOf(p, d), DealStatus::kWon);
  d.stage_id = "lost";
  EXPECT_EQ(StatusOf(p, d), DealStatus::kLost);
  d.stage_id = "nowhere";
  EXPECT_EQ(StatusOf(p, d), std::nullopt);
  d.stage_id = "qualify";  // Removed, counts as problem.
  EXPECT_EQ(StatusOf(p, d), DealStatus::kOpen);

  // A cycle of removed stages resolves to nothing rather than looping.
  PipelineDef cyclic = DefaultPipeline();
  cyclic.removed_stage_targets = {{"x", "y"}, {"y", "x"}};
  d.stage_id = "x";
  EXPECT_EQ(StatusOf(cyclic, d), std::nullopt);
}

// ---------------------------------------------------------------------------
// Pipeline summary
// ---------------------------------------------------------------------------

TEST(SummarizePipelineTest, StageTotalsCountOpenNowAndClosesInThePeriod) {
  const std::vector<OpportunityFacts> deals = Fixture();
  auto summary =
      SummarizePipeline(FixturePipeline(), deals, FixtureSummaryOptions());
  ASSERT_THAT(summary, IsOk());
  const SummaryGroup& g = summary->total;
  EXPECT_EQ(g.owner, "");
  EXPECT_EQ(summary->other_currency_count, 1);  // o10 in USD.
  ASSERT_EQ(g.stages.size(), 8u);
  EXPECT_EQ(g.stages[0].stage_id, "scene");
  EXPECT_EQ(g.stages[0].display_name, "Scene (场景)");
  EXPECT_EQ(g.stages[7].kind, StageKind::kLost);
  // Open now: o07 scene 700 x 0.05 = 35; o05 pain 500 x 0.20 = 100;
  // o08 guided 800 x 0.5 (override) = 400; o12 proposal 1200 x 0.50 = 600;
  // o06 negotiation 600 x 0.9 (override) = 540. o10 is in USD.
  ExpectTotals(Totals(g, "scene"), 1, 700, 35);
  ExpectTotals(Totals(g, "problem"), 0, 0, 0);
  ExpectTotals(Totals(g, "pain"), 1, 500, 100);
  ExpectTotals(Totals(g, "guided_solution"), 1, 800, 400);
  ExpectTotals(Totals(g, "proposal"), 1, 1200, 600);
  ExpectTotals(Totals(g, "negotiation"), 1, 600, 540);
  // Closed in 2025-01-01..2025-04-30: won o01 (d100), o03 (d60), o09 (d45)
  // = 100 + 300 + 900; lost o02 (d40), o11 (d50) = 200 + 1100. o04 (d-10)
  // and o13 (d130) closed outside the period.
  ExpectTotals(Totals(g, "won"), 3, 1300, 1300);
  ExpectTotals(Totals(g, "lost"), 2, 1300, 0);
  // Open total: 5 deals, 700 + 500 + 800 + 1200 + 600 = 3800, weighted
  // 35 + 100 + 400 + 600 + 540 = 1675.
  EXPECT_EQ(g.open_total.stage_id, "");
  EXPECT_EQ(g.open_total.kind, StageKind::kOpen);
  ExpectTotals(g.open_total, 5, 3800, 1675);
  EXPECT_THAT(summary->by_owner, IsEmpty());
}

TEST(SummarizePipelineTest, WinRatesAndCycleTimesOverThePeriod) {
  const std::vector<OpportunityFacts> deals = Fixture();
  auto summary =
      SummarizePipeline(FixturePipeline(), deals, FixtureSummaryOptions());
  ASSERT_THAT(summary, IsOk());
  const SummaryGroup& g = summary->total;
  EXPECT_EQ(g.won_count, 3);
  EXPECT_EQ(g.lost_count, 2);
  EXPECT_NEAR(g.win_rate_by_count, 3.0 / 5.0, kTol);
  EXPECT_EQ(g.won_amount_micros, 1300 * kMicros);
  EXPECT_EQ(g.lost_amount_micros, 1300 * kMicros);
  EXPECT_NEAR(g.win_rate_by_amount, 0.5, kTol);
  // Won cycles (open -> close): o01 0 -> 100 = 100, o03 -30 -> 60 = 90,
  // o09 0 -> 45 = 45 (the reopened stretch included): 235 / 3.
  EXPECT_NEAR(g.average_won_cycle_days, 235.0 / 3.0, kTol);
  // Plus lost o02 5 -> 40 = 35 and o11 20 -> 50 = 30: 300 / 5 = 60.
  EXPECT_NEAR(g.average_closed_cycle_days, 60.0, kTol);
}

TEST(SummarizePipelineTest, ConversionAndTimeInStageFollowTheHistory) {
  const std::vector<OpportunityFacts> deals = Fixture();
  auto summary =
      SummarizePipeline(FixturePipeline(), deals, FixtureSummaryOptions());
  ASSERT_THAT(summary, IsOk());
  const SummaryGroup& g = summary->total;
  ASSERT_EQ(g.conversions.size(), 6u);
  EXPECT_EQ(g.conversions[0].stage_id, "scene");
  EXPECT_EQ(g.conversions[5].stage_id, "negotiation");
  // Period d0..d119. Entries into a stage in the period (o10 is USD and
  // left out; o04's scene at -100 and o03's proposal at -30 are before it;
  // o06's negotiation at 120 is after it).
  //
  // scene: o01@0, o02@5, o08@10, o11@20, o05@60, o13@100, o07@115 = 7.
  //   Advanced (later problem..negotiation or won): all but o07 = 6.
  //   Lost since: o02, o11, o13 = 3. Stays ended in the period: o01 0-10
  //   = 10, o02 5-20 = 15, o08 10-40 = 30, o11 20-30.5 = 10.5, o05 60-70 =
  //   10, o13 100-110 = 10: 85.5 / 6 = 14.25 (o04's stay ended at -10).
  ExpectConversion(Conversion(g, "scene"), 7, 6, 3, 6.0 / 7.0, 14.25, 6);
  // problem: o12@0 (created in "qualify", remapped), o01@10, o11@30.5,
  //   o08@60, o05@70 = 5. Advanced: o12 (proposal), o01 (pain), o08
  //   (guided@90), o05 (pain) = 4; lost: o11. Stays: o12 0-30 = 30, o01
  //   10-30 = 20, o11 30.5-50 = 19.5, o08 60-90 = 30, o05 70-80 = 10:
  //   109.5 / 5 = 21.9.
  ExpectConversion(Conversion(g, "problem"), 5, 4, 1, 0.8, 21.9, 5);
  // pain: o02@20, o01@30, o05@80, o13@110 = 4. Advanced: o01 only; lost
  //   since: o02, o13 (lost at 130, after the period) = 2. Stays: o02 20-40
  //   = 20, o01 30-50 = 20 (o13's ended at 130, o05's goes on): 20.
  ExpectConversion(Conversion(g, "pain"), 4, 1, 2, 0.25, 20.0, 2);
  // guided_solution: o08@40 (again @90, counted once), o01@50 = 2.
  //   Advanced: o01; o08 went back to problem and returned, not later.
  //   Stays: o08 40-60 = 20, o01 50-70 = 20 (o08's second goes on): 20.
  ExpectConversion(Conversion(g, "guided_solution"), 2, 1, 0, 0.5, 20.0, 2);
  // proposal: o12@30, o01@70, o06@100 = 3. Advanced: o01, o06 (negotiation
  //   at 120, after the period: "have since") = 2. Stays: o03 -30-20 = 50
  //   (ended in the period), o01 70-90 = 20 (o06's ended at 120, after it):
  //   35.
  ExpectConversion(Conversion(g, "proposal"), 3, 2, 0, 2.0 / 3.0, 35.0, 2);
  // negotiation: o09@0 (and @30), o03@20, o01@90 = 3, all won. Stays: o09
  //   0-20 = 20 and 30-45 = 15, o03 20-60 = 40, o01 90-100 = 10: 85 / 4.
  ExpectConversion(Conversion(g, "negotiation"), 3, 3, 0, 1.0, 21.25, 4);
}

TEST(SummarizePipelineTest, GroupByOwnerRepeatsTheSummaryPerOwner) {
  const std::vector<OpportunityFacts> deals = Fixture();
  SummaryOptions options = FixtureSummaryOptions();
  options.group_by_owner = true;
  auto summary = SummarizePipeline(FixturePipeline(), deals, options);
  ASSERT_THAT(summary, IsOk());
  ASSERT_EQ(summary->by_owner.size(), 2u);
  const SummaryGroup& li = summary->by_owner[0];
  const SummaryGroup& wang = summary->by_owner[1];
  EXPECT_EQ(li.owner, "li");
  EXPECT_EQ(wang.owner, "wang");

  // li: open o05 pain 500 (100), o06 negotiation 600 (540); won o01 100 and
  // o09 900; lost o02 200 and o11 1100.
  ExpectTotals(Totals(li, "pain"), 1, 500, 100);
  ExpectTotals(Totals(li, "negotiation"), 1, 600, 540);
  ExpectTotals(Totals(li, "scene"), 0, 0, 0);
  ExpectTotals(li.open_total, 2, 1100, 640);
  EXPECT_EQ(li.won_count, 2);
  EXPECT_EQ(li.lost_count, 2);
  EXPECT_NEAR(li.win_rate_by_count, 0.5, kTol);
  EXPECT_NEAR(li.win_rate_by_amount, 1000.0 / 2300.0, kTol);
  EXPECT_NEAR(li.average_won_cycle_days, (100.0 + 45.0) / 2, kTol);
  EXPECT_NEAR(li.average_closed_cycle_days, (100.0 + 45 + 35 + 30) / 4, kTol);

  // wang: open o07 scene 700 (35), o08 guided 800 (400), o12 proposal 1200
  // (600); won o03 300; no loss in the period (o04 before, o13 after).
  ExpectTotals(wang.open_total, 3, 2700, 1035);
  ExpectTotals(Totals(wang, "won"), 1, 300, 300);
  ExpectTotals(Totals(wang, "lost"), 0, 0, 0);
  EXPECT_NEAR(wang.win_rate_by_count, 1.0, kTol);
  EXPECT_NEAR(wang.win_rate_by_amount, 1.0, kTol);
  EXPECT_NEAR(wang.average_won_cycle_days, 90.0, kTol);
  EXPECT_NEAR(wang.average_closed_cycle_days, 90.0, kTol);
  // wang's scene: o08@10, o13@100, o07@115 entered; o08 and o13 advanced,
  // o13 lost; stays o08 10-40 = 30 and o13 100-110 = 10.
  ExpectConversion(Conversion(wang, "scene"), 3, 2, 1, 2.0 / 3.0, 20.0, 2);

  // The total is unchanged by grouping.
  ExpectTotals(summary->total.open_total, 5, 3800, 1675);
}

TEST(SummarizePipelineTest, CalibratedWeightingIgnoresOverrides) {
  const std::vector<OpportunityFacts> deals = Fixture();
  const std::vector<CalibratedStage> calibrated = {
      {"scene", "", 0.05, 0, 0, 0, 0.1, ProbabilityOrigin::kObserved},
      {"pain", "", 0.20, 0, 0, 0, 0.5, ProbabilityOrigin::kObserved},
      {"negotiation", "", 0.75, 0, 0, 0, 0.8, ProbabilityOrigin::kObserved}};
  SummaryOptions options = FixtureSummaryOptions();
  options.weighting = {WeightingSource::kCalibrated, calibrated};
  auto summary = SummarizePipeline(FixturePipeline(), deals, options);
  ASSERT_THAT(summary, IsOk());
  const SummaryGroup& g = summary->total;
  // scene 700 x 0.1 = 70; pain 500 x 0.5 = 250; guided 800 x 0.35 (not in
  // the list: configured; override 0.5 ignored) = 280; proposal 1200 x 0.50
  // = 600; negotiation 600 x 0.8 (override 0.9 ignored) = 480; won x 1.
  ExpectTotals(Totals(g, "scene"), 1, 700, 70);
  ExpectTotals(Totals(g, "pain"), 1, 500, 250);
  ExpectTotals(Totals(g, "guided_solution"), 1, 800, 280);
  ExpectTotals(Totals(g, "negotiation"), 1, 600, 480);
  ExpectTotals(Totals(g, "won"), 3, 1300, 1300);
  ExpectTotals(g.open_total, 5, 3800, 1680);
}

TEST(SummarizePipelineTest, WeightedAmountsAreSummedThenRoundedPerFigure) {
  const PipelineDef p = DefaultPipeline();
  std::vector<OpportunityFacts> deals;
  // Three 1-micro deals at 0.5 in proposal: 1.5 micros -> 2 (rounding each
  // would give 3). One 1-micro deal at 0.5 in scene: 0.5 -> 1 (halves away
  // from zero).
  for (const char* id : {"a", "b", "c"}) {
    OpportunityFacts d = Deal(id, "li", "x", 0, {{"proposal", At(0)}});
    d.amount_micros = 1;
    deals.push_back(d);
  }
  OpportunityFacts d = Deal("d", "li", "x", 0, {{"scene", At(0)}});
  d.amount_micros = 1;
  d.probability_override = 0.5;
  deals.push_back(d);
  auto summary = SummarizePipeline(p, deals, FixtureSummaryOptions());
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(Totals(summary->total, "proposal").weighted_amount_micros, 2);
  EXPECT_EQ(Totals(summary->total, "scene").weighted_amount_micros, 1);
  // The open total adds the rounded stage figures: 2 + 1 (not round(2.0)).
  EXPECT_EQ(summary->total.open_total.weighted_amount_micros, 3);
  EXPECT_EQ(summary->total.open_total.amount_micros, 4);
}

TEST(SummarizePipelineTest, EmptyCurrencyMeansTheTenantDefault) {
  std::vector<OpportunityFacts> deals = {
      Deal("a", "li", "x", 10, {{"scene", At(0)}}),
      Deal("b", "li", "x", 20, {{"scene", At(0)}}),
      Deal("c", "li", "x", 40, {{"scene", At(0)}})};
  deals[1].currency_code = "CNY";
  deals[2].currency_code = "EUR";
  SummaryOptions options = FixtureSummaryOptions();
  options.currency = {"CNY", "CNY"};
  auto summary = SummarizePipeline(DefaultPipeline(), deals, options);
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->total.open_total.amount_micros, 30 * kMicros);
  EXPECT_EQ(summary->other_currency_count, 1);
  // Reporting in EUR with CNY as the tenant default keeps only c.
  options.currency = {"EUR", "CNY"};
  summary = SummarizePipeline(DefaultPipeline(), deals, options);
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->total.open_total.amount_micros, 40 * kMicros);
  EXPECT_EQ(summary->other_currency_count, 2);
}

TEST(SummarizePipelineTest, EmptyPeriodGivesZeroRatesNotNaN) {
  const std::vector<OpportunityFacts> deals = Fixture();
  SummaryOptions options = FixtureSummaryOptions();
  options.start_day = kD0 + 1000;
  options.end_day = kD0 + 1000;
  auto summary = SummarizePipeline(FixturePipeline(), deals, options);
  ASSERT_THAT(summary, IsOk());
  const SummaryGroup& g = summary->total;
  EXPECT_EQ(g.won_count + g.lost_count, 0);
  EXPECT_EQ(g.win_rate_by_count, 0);
  EXPECT_EQ(g.win_rate_by_amount, 0);
  EXPECT_EQ(g.average_won_cycle_days, 0);
  EXPECT_EQ(g.average_closed_cycle_days, 0);
  for (const StageConversion& c : g.conversions) {
    EXPECT_EQ(c.entered_count, 0);
    EXPECT_EQ(c.conversion_rate, 0);
    EXPECT_EQ(c.average_days_in_stage, 0);
  }
  // Open stages still count what is in them now.
  ExpectTotals(g.open_total, 5, 3800, 1675);
}

TEST(SummarizePipelineTest, StartAfterEndIsInvalidStartDate) {
  SummaryOptions options = FixtureSummaryOptions();
  options.start_day = options.end_day + 1;
  const auto summary = SummarizePipeline(DefaultPipeline(), {}, options);
  EXPECT_THAT(summary, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(FieldOf(summary.status()), "start_date");
}

TEST(SummarizePipelineTest, RemovedStageChainsCountTowardsTheLastTarget) {
  PipelineDef p = DefaultPipeline();
  p.removed_stage_targets = {{"lead", "qualify"}, {"qualify", "pain"}};
  // lead (-> qualify -> pain) 0..10, pain 10..20 (merged with lead: one
  // stay 0..20), unknown "old" 20..30, proposal 30..
  const std::vector<OpportunityFacts> deals = {Deal("a", "li", "x", 10,
                                                    {{"lead", At(0)},
                                                     {"pain", At(10)},
                                                     {"old", At(20)},
                                                     {"proposal", At(30)}})};
  auto summary = SummarizePipeline(p, deals, FixtureSummaryOptions());
  ASSERT_THAT(summary, IsOk());
  ExpectConversion(Conversion(summary->total, "pain"), 1, 1, 0, 1.0, 20.0, 1);
  ExpectConversion(Conversion(summary->total, "proposal"), 1, 0, 0, 0, 0, 0);
}

// ---------------------------------------------------------------------------
// Forecast
// ---------------------------------------------------------------------------

void ExpectMonth(const ForecastMonthValue& m, int year, int month,
                 int64_t open_count, int64_t best_units, int64_t weighted_units,
                 int64_t won_count, int64_t won_units) {
  EXPECT_EQ(m.year, year);
  EXPECT_EQ(m.month, month);
  EXPECT_EQ(m.open_count, open_count) << year << "-" << month;
  EXPECT_EQ(m.best_case_amount_micros, best_units * kMicros)
      << year << "-" << month;
  EXPECT_EQ(m.weighted_amount_micros, weighted_units * kMicros)
      << year << "-" << month;
  EXPECT_EQ(m.won_count, won_count) << year << "-" << month;
  EXPECT_EQ(m.won_amount_micros, won_units * kMicros) << year << "-" << month;
}

TEST(ForecastByCloseMonthTest, BucketsOpenByExpectedCloseAndWonByCloseTime) {
  const std::vector<OpportunityFacts> deals = Fixture();
  ForecastOptions options;
  options.months = 3;
  options.start_day = kD0 + 99;  // 2025-04-10: April, May, June.
  options.currency = Cny();
  auto forecast = ForecastByCloseMonth(FixturePipeline(), deals, options);
  ASSERT_THAT(forecast, IsOk());
  ASSERT_EQ(forecast->months.size(), 3u);
  // April: o12 (expected 04-30) 1200 x 0.5 = 600; won o01 (closed d100 =
  //   04-11) 100.
  ExpectMonth(forecast->months[0], 2025, 4, 1, 1200, 600, 1, 100);
  // May: o05 (05-31) 500 x 0.2 = 100. o10 (05-11) is USD.
  ExpectMonth(forecast->months[1], 2025, 5, 1, 500, 100, 0, 0);
  // June: o07 (06-01) 700 x 0.05 = 35, o06 (06-30) 600 x 0.9 = 540.
  ExpectMonth(forecast->months[2], 2025, 6, 2, 1300, 575, 0, 0);
  // Overdue: o08 (03-31) 800 x 0.5 = 400.
  ExpectMonth(forecast->overdue, 0, 0, 1, 800, 400, 0, 0);
  EXPECT_EQ(forecast->total_best_case_amount_micros, 3000 * kMicros);
  EXPECT_EQ(forecast->total_weighted_amount_micros, 1275 * kMicros);
  EXPECT_EQ(forecast->other_currency_count, 1);
}

TEST(ForecastByCloseMonthTest, MonthsCrossTheYearAndLaterDealsAreLeftOut) {
  const std::vector<OpportunityFacts> deals = Fixture();
  ForecastOptions options;
  options.months = 2;
  options.start_day = kD0 + 150;  // 2025-05-31: May and June.
  options.currency = Cny();
  auto forecast = ForecastByCloseMonth(FixturePipeline(), deals, options);
  ASSERT_THAT(forecast, IsOk());
  ExpectMonth(forecast->months[0], 2025, 5, 1, 500, 100, 0, 0);
  ExpectMonth(forecast->months[1], 2025, 6, 2, 1300, 575, 0, 0);
  // Overdue: o08 (03-31) 800 (400) and o12 (04-30) 1200 (600).
  ExpectMonth(forecast->overdue, 0, 0, 2, 2000, 1000, 0, 0);

  options.start_day = kD0 - 45;  // 2024-11-17: Nov, Dec 2024, Jan 2025.
  options.months = 3;
  forecast = ForecastByCloseMonth(FixturePipeline(), deals, options);
  ASSERT_THAT(forecast, IsOk());
  ExpectMonth(forecast->months[0], 2024, 11, 0, 0, 0, 0, 0);
  ExpectMonth(forecast->months[1], 2024, 12, 0, 0, 0, 0, 0);
  // January 2025: nothing expected; o09 won 02-15 is outside.
  ExpectMonth(forecast->months[2], 2025, 1, 0, 0, 0, 0, 0);
  EXPECT_EQ(forecast->overdue.open_count, 0);
  EXPECT_EQ(forecast->total_best_case_amount_micros, 0);
}

TEST(ForecastByCloseMonthTest, MonthsDefaultToSixAndAreLimitedToThirtySix) {
  ForecastOptions options;
  options.months = 0;
  options.start_day = kD0;
  auto forecast = ForecastByCloseMonth(DefaultPipeline(), {}, options);
  ASSERT_THAT(forecast, IsOk());
  EXPECT_EQ(forecast->months.size(), 6u);
  options.months = 37;
  forecast = ForecastByCloseMonth(DefaultPipeline(), {}, options);
  EXPECT_THAT(forecast, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(FieldOf(forecast.status()), "months");
  options.months = -1;
  EXPECT_EQ(
      FieldOf(ForecastByCloseMonth(DefaultPipeline(), {}, options).status()),
      "months");
}

// ---------------------------------------------------------------------------
// Stale deals
// ---------------------------------------------------------------------------

struct StaleRow {
  std::string id;
  int64_t inactive_days;
  int threshold_days;
  friend bool operator==(const StaleRow&, const StaleRow&) = default;
};

std::vector<StaleRow> Rows(const std::vector<StaleDeal>& stale) {
  std::vector<StaleRow> rows;
  for (const StaleDeal& s : stale) {
    rows.push_back({s.opportunity_id, s.inactive_days, s.threshold_days});
  }
  return rows;
}

TEST(ListStaleDealsTest, PipelineThresholdsByDefault) {
  const std::vector<OpportunityFacts> deals = Fixture();
  StaleOptions options;
  options.as_of = At(140);  // 2025-05-21T00:00Z.
  auto stale = ListStaleDeals(FixturePipeline(), deals, options);
  ASSERT_THAT(stale, IsOk());
  // Threshold 30 everywhere. o10: last activity d50 -> 90 days (currency
  // plays no part); o06: no activity, opened d100 -> 40; o08: last d100
  // 12:00 -> 39.5 -> 39. Not stale: o05 (d125: 15), o07 (opened d115: 25),
  // o12 (d110: 30, not more than 30). Closed deals never are.
  EXPECT_THAT(Rows(*stale),
              ElementsAre(StaleRow{"o10", 90, 30}, StaleRow{"o06", 40, 30},
                          StaleRow{"o08", 39, 30}));
  // The index points into the input.
  EXPECT_EQ(deals[(*stale)[0].index].id, "o10");
}

TEST(ListStaleDealsTest, RequestThresholdsOverrideThePipeline) {
  const std::vector<OpportunityFacts> deals = Fixture();
  StaleOptions options;
  options.as_of = At(140);
  options.inactive_days = 35;
  options.stage_inactive_days["proposal"] = 10;
  auto stale = ListStaleDeals(FixturePipeline(), deals, options);
  ASSERT_THAT(stale, IsOk());
  // proposal: 10 (o10 90, o12 30 both exceed); elsewhere 35: o06 40 and o08
  // 39 exceed, o05 15 and o07 25 do not.
  EXPECT_THAT(Rows(*stale),
              ElementsAre(StaleRow{"o10", 90, 10}, StaleRow{"o06", 40, 35},
                          StaleRow{"o08", 39, 35}, StaleRow{"o12", 30, 10}));
}

TEST(ListStaleDealsTest, StageThresholdElsePipelineDefault) {
  const std::vector<OpportunityFacts> deals = Fixture();
  PipelineDef p = FixturePipeline();
  p.stages[2].stale_after_days = 7;  // pain
  p.default_stale_after_days = 45;
  StaleOptions options;
  options.as_of = At(140);
  auto stale = ListStaleDeals(p, deals, options);
  ASSERT_THAT(stale, IsOk());
  // o05 (pain) 15 > 7; o10 90 > 45; o06 40 and o08 39 are under 45.
  EXPECT_THAT(Rows(*stale),
              ElementsAre(StaleRow{"o10", 90, 45}, StaleRow{"o05", 15, 7}));
}

TEST(ListStaleDealsTest, TiesAreOrderedByIdAndFutureActivityIsNotStale) {
  std::vector<OpportunityFacts> deals = {
      Deal("b", "li", "x", 1, {{"scene", At(0)}}),
      Deal("a", "li", "x", 1, {{"pain", At(0)}}),
      Deal("c", "li", "x", 1, {{"pain", At(0)}})};
  deals[2].last_activity_time = At(200);  // After as_of.
  StaleOptions options;
  options.as_of = At(31, 1);
  auto stale = ListStaleDeals(DefaultPipeline(), deals, options);
  ASSERT_THAT(stale, IsOk());
  EXPECT_THAT(Rows(*stale),
              ElementsAre(StaleRow{"a", 31, 30}, StaleRow{"b", 31, 30}));
}

TEST(ListStaleDealsTest, InvalidThresholdsNameTheirField) {
  StaleOptions options;
  options.inactive_days = 3651;
  EXPECT_EQ(FieldOf(ListStaleDeals(DefaultPipeline(), {}, options).status()),
            "inactive_days");
  options.inactive_days = 0;
  options.stage_inactive_days["won"] = 5;
  auto stale = ListStaleDeals(DefaultPipeline(), {}, options);
  EXPECT_EQ(FieldOf(stale.status()), "stage_inactive_days");
  EXPECT_THAT(stale, StatusIs(absl::StatusCode::kInvalidArgument,
                              HasSubstr("\"won\"")));
  options.stage_inactive_days = {{"pain", 0}};
  EXPECT_EQ(FieldOf(ListStaleDeals(DefaultPipeline(), {}, options).status()),
            "stage_inactive_days");
}

// ---------------------------------------------------------------------------
// Decision-maker coverage
// ---------------------------------------------------------------------------

std::vector<ContactFacts> FixtureContacts() {
  return {{"c1", "a3", ContactStance::kSupporter},
          {"c2", "a3", ContactStance::kBlocker},
          {"c3", "a4", ContactStance::kNeutral},
          {"c4", "a5", ContactStance::kChampion},
          {"c5", "a6", ContactStance::kBlocker},
          {"c6", "a6", ContactStance::kSupporter}};
}

std::vector<ActivityFacts> FixtureActivities() {
  return {
      {"a3", At(50), {"c1"}},      // Exactly 90 days before d140: counts.
      {"a4", At(40), {"c3"}},      // Before the window.
      {"a4", At(60), {}},          // Nobody from the account took part.
      {"a4", At(141), {"c3"}},     // After as_of.
      {"a6", At(49, 23), {"c6"}},  // One hour before a 90-day window.
      {"a3", At(100), {"c2"}},     // Engages a blocker.
      {"a5", At(100), {"c4"}},     // Not a decision maker on o10.
  };
}

struct GapRow {
  std::string id;
  CoverageGapReason reason;
  std::vector<std::string> decision_makers;
  friend bool operator==(const GapRow&, const GapRow&) = default;
};

std::vector<GapRow> Rows(const std::vector<CoverageGap>& gaps) {
  std::vector<GapRow> rows;
  for (const CoverageGap& g : gaps) {
    rows.push_back({g.opportunity_id, g.reason, g.decision_maker_contact_ids});
  }
  return rows;
}

TEST(DecisionMakerCoverageTest, FixtureCoverageAndGaps) {
  const std::vector<OpportunityFacts> deals = Fixture();
  const std::vector<ContactFacts> contacts = FixtureContacts();
  const std::vector<ActivityFacts> activities = FixtureActivities();
  CoverageOptions options;
  options.as_of = At(140);  // Window [d50, d140] with the default 90 days.
  auto coverage = MeasureDecisionMakerCoverage(FixturePipeline(), deals,
                                               contacts, activities, options);
  ASSERT_THAT(coverage, IsOk());
  // Open: o05, o06, o07, o08, o10, o12 (coverage has no currency).
  // o05: c1 engaged at d50 -> covered. o06: c1 engaged and not a blocker ->
  // covered, although c2 is a blocker. o07: no contact -> no decision
  // maker. o08: c3 last took part at d40 (the d141 one is after as_of) ->
  // not engaged. o10: c4 is only the economic buyer -> no decision maker.
  // o12: c5 blocker, c6 not engaged (d49 23:00) -> blocker.
  EXPECT_EQ(coverage->open_count, 6);
  EXPECT_EQ(coverage->covered_count, 2);
  EXPECT_EQ(coverage->no_decision_maker_count, 2);
  EXPECT_EQ(coverage->not_engaged_count, 1);
  EXPECT_EQ(coverage->blocker_count, 1);
  EXPECT_NEAR(coverage->coverage_rate, 2.0 / 6.0, kTol);
  // By amount: o12 1200, o10 1000, o08 800, o07 700.
  using R = CoverageGapReason;
  EXPECT_THAT(Rows(coverage->gaps),
              ElementsAre(GapRow{"o12", R::kBlocker, {"c5", "c6"}},
                          GapRow{"o10", R::kNoDecisionMaker, {}},
                          GapRow{"o08", R::kNotEngaged, {"c3"}},
                          GapRow{"o07", R::kNoDecisionMaker, {}}));
}

TEST(DecisionMakerCoverageTest, AnEngagedNonBlockerCoversDespiteABlocker) {
  const std::vector<OpportunityFacts> deals = Fixture();
  const std::vector<ContactFacts> contacts = FixtureContacts();
  const std::vector<ActivityFacts> activities = FixtureActivities();
  CoverageOptions options;
  options.as_of = At(140);
  options.engagement_days = 91;  // Window from d49 00:00: c6 engaged.
  auto coverage = MeasureDecisionMakerCoverage(FixturePipeline(), deals,
                                               contacts, activities, options);
  ASSERT_THAT(coverage, IsOk());
  // o12 now has c6, engaged and a supporter, next to the blocker c5.
  EXPECT_EQ(coverage->covered_count, 3);
  EXPECT_EQ(coverage->blocker_count, 0);
  EXPECT_NEAR(coverage->coverage_rate, 0.5, kTol);
}

TEST(DecisionMakerCoverageTest, BlockerTakesPrecedenceOverNotEngaged) {
  OpportunityFacts d = Deal("o", "li", "a", 1, {{"pain", At(0)}});
  d.contacts = {{"x", BuyingRole::kDecisionMaker}};
  const std::vector<OpportunityFacts> deals = {d};
  const std::vector<ContactFacts> contacts = {
      {"x", "a", ContactStance::kBlocker}};
  // Engaged or not, a lone blocking decision maker is a blocker gap.
  for (absl::Time when : {At(1), At(-500)}) {
    const std::vector<ActivityFacts> activities = {{"a", when, {"x"}}};
    CoverageOptions options;
    options.as_of = At(10);
    auto coverage = MeasureDecisionMakerCoverage(DefaultPipeline(), deals,
                                                 contacts, activities, options);
    ASSERT_THAT(coverage, IsOk());
    ASSERT_EQ(coverage->gaps.size(), 1u);
    EXPECT_EQ(coverage->gaps[0].reason, CoverageGapReason::kBlocker);
    EXPECT_EQ(coverage->blocker_count, 1);
  }
}

TEST(DecisionMakerCoverageTest, ActivityMustBeOnTheDealsAccount) {
  OpportunityFacts d = Deal("o", "li", "a", 1, {{"pain", At(0)}});
  d.contacts = {{"x", BuyingRole::kDecisionMaker}};
  const std::vector<OpportunityFacts> deals = {d};
  const std::vector<ContactFacts> contacts = {
      {"x", "a", ContactStance::kNeutral}};
  const std::vector<ActivityFacts> activities = {{"other", At(5), {"x"}}};
  CoverageOptions options;
  options.as_of = At(10);
  auto coverage = MeasureDecisionMakerCoverage(DefaultPipeline(), deals,
                                               contacts, activities, options);
  ASSERT_THAT(coverage, IsOk());
  EXPECT_EQ(coverage->not_engaged_count, 1);
}

TEST(DecisionMakerCoverageTest, EngagementDaysAreOneToThreeThousandSixFifty) {
  CoverageOptions options;
  options.engagement_days = 3651;
  auto coverage =
      MeasureDecisionMakerCoverage(DefaultPipeline(), {}, {}, {}, options);
  EXPECT_THAT(coverage, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(FieldOf(coverage.status()), "engagement_days");
  options.engagement_days = 0;  // 90
  coverage =
      MeasureDecisionMakerCoverage(DefaultPipeline(), {}, {}, {}, options);
  ASSERT_THAT(coverage, IsOk());
  EXPECT_EQ(coverage->open_count, 0);
  EXPECT_EQ(coverage->coverage_rate, 0);
}

// ---------------------------------------------------------------------------
// Calibrated probabilities
// ---------------------------------------------------------------------------

struct CalibrationRow {
  std::string id;
  int64_t samples;
  int64_t won;
  double observed;
  double calibrated;
  ProbabilityOrigin origin;
};

void ExpectCalibration(const CalibrationResult& result,
                       const std::vector<CalibrationRow>& rows) {
  ASSERT_EQ(result.stages.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const CalibratedStage& s = result.stages[i];
    EXPECT_EQ(s.stage_id, rows[i].id);
    EXPECT_EQ(s.sample_count, rows[i].samples) << rows[i].id;
    EXPECT_EQ(s.won_count, rows[i].won) << rows[i].id;
    EXPECT_NEAR(s.observed_probability, rows[i].observed, kTol) << rows[i].id;
    EXPECT_NEAR(s.calibrated_probability, rows[i].calibrated, kTol)
        << rows[i].id;
    EXPECT_EQ(s.origin, rows[i].origin) << rows[i].id;
  }
}

// Closed deals up to d140: won o01 (every open stage), o03 (proposal,
// negotiation), o09 (negotiation); lost o02 (scene, pain), o04 (scene), o11
// (scene, problem), o13 (scene, pain).
//   scene 5 samples, 1 won; problem 2, 1; pain 3, 1; guided 1, 1;
//   proposal 2, 2; negotiation 3, 3.
TEST(CalibrateStageProbabilitiesTest, ObservedWithEnoughSamples) {
  const std::vector<OpportunityFacts> deals = Fixture();
  CalibrationOptions options;
  options.min_samples = 3;
  options.end_day = kD0 + 140;
  auto result = CalibrateStageProbabilities(FixturePipeline(), deals, options);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->closed_count, 7);
  EXPECT_EQ(result->min_samples, 3);
  using O = ProbabilityOrigin;
  ExpectCalibration(*result,
                    {{"scene", 5, 1, 0.2, 0.2, O::kObserved},
                     {"problem", 2, 1, 0.5, 0.10, O::kConfigured},
                     {"pain", 3, 1, 1.0 / 3, 1.0 / 3, O::kObserved},
                     {"guided_solution", 1, 1, 1.0, 0.35, O::kConfigured},
                     {"proposal", 2, 2, 1.0, 0.50, O::kConfigured},
                     {"negotiation", 3, 3, 1.0, 1.0, O::kObserved}});
  EXPECT_EQ(result->stages[2].display_name, "Pain (痛点)");
  EXPECT_DOUBLE_EQ(result->stages[2].configured_probability, 0.20);
}

TEST(CalibrateStageProbabilitiesTest, DefaultMinSamplesFallsBackToConfigured) {
  const std::vector<OpportunityFacts> deals = Fixture();
  CalibrationOptions options;  // min_samples 20
  options.min_samples = 0;     // also 20
  options.end_day = kD0 + 140;
  auto result = CalibrateStageProbabilities(FixturePipeline(), deals, options);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->min_samples, 20);
  using O = ProbabilityOrigin;
  ExpectCalibration(*result,
                    {{"scene", 5, 1, 0.2, 0.05, O::kConfigured},
                     {"problem", 2, 1, 0.5, 0.10, O::kConfigured},
                     {"pain", 3, 1, 1.0 / 3, 0.20, O::kConfigured},
                     {"guided_solution", 1, 1, 1.0, 0.35, O::kConfigured},
                     {"proposal", 2, 2, 1.0, 0.50, O::kConfigured},
                     {"negotiation", 3, 3, 1.0, 0.75, O::kConfigured}});
}

TEST(CalibrateStageProbabilitiesTest, PeriodRestrictsTheClosedDeals) {
  const std::vector<OpportunityFacts> deals = Fixture();
  CalibrationOptions options;
  options.min_samples = 3;
  options.start_day = kD0;
  options.end_day = kD0 + 119;
  auto result = CalibrateStageProbabilities(FixturePipeline(), deals, options);
  ASSERT_THAT(result, IsOk());
  // Without o04 (closed d-10) and o13 (d130): o01, o02, o03, o09, o11.
  // scene: o01, o02, o11 -> 3, 1 won; pain: o01, o02 -> 2, 1 won.
  EXPECT_EQ(result->closed_count, 5);
  using O = ProbabilityOrigin;
  ExpectCalibration(*result,
                    {{"scene", 3, 1, 1.0 / 3, 1.0 / 3, O::kObserved},
                     {"problem", 2, 1, 0.5, 0.10, O::kConfigured},
                     {"pain", 2, 1, 0.5, 0.20, O::kConfigured},
                     {"guided_solution", 1, 1, 1.0, 0.35, O::kConfigured},
                     {"proposal", 2, 2, 1.0, 0.50, O::kConfigured},
                     {"negotiation", 3, 3, 1.0, 1.0, O::kObserved}});
}

TEST(CalibrateStageProbabilitiesTest, NoSamplesGiveZeroObserved) {
  CalibrationOptions options;
  options.min_samples = 1;
  options.end_day = kD0;
  auto result = CalibrateStageProbabilities(DefaultPipeline(), {}, options);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->closed_count, 0);
  ASSERT_EQ(result->stages.size(), 6u);
  EXPECT_EQ(result->stages[0].observed_probability, 0);
  EXPECT_EQ(result->stages[0].origin, ProbabilityOrigin::kConfigured);
  EXPECT_DOUBLE_EQ(result->stages[0].calibrated_probability, 0.05);
}

TEST(CalibrateStageProbabilitiesTest, InvalidOptionsNameTheirField) {
  CalibrationOptions options;
  options.min_samples = 100'001;
  options.end_day = kD0;
  EXPECT_EQ(
      FieldOf(
          CalibrateStageProbabilities(DefaultPipeline(), {}, options).status()),
      "min_samples");
  options.min_samples = -3;
  EXPECT_EQ(
      FieldOf(
          CalibrateStageProbabilities(DefaultPipeline(), {}, options).status()),
      "min_samples");
  options.min_samples = 5;
  options.start_day = kD0 + 1;
  EXPECT_EQ(
      FieldOf(
          CalibrateStageProbabilities(DefaultPipeline(), {}, options).status()),
      "start_date");
}

}  // namespace
}  // namespace custra
