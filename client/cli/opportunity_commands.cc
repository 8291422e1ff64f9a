#include "client/cli/opportunity_commands.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/generated_enum_reflection.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "client/cli/format.h"
#include "common/status_macros.h"

namespace custra::cli {
namespace {

using google::protobuf::EnumDescriptor;
using google::protobuf::Timestamp;

// Flags of the opp, contacts, activities, pipeline and forecast commands.
// One instance is shared by the callbacks that read it, so the references
// CLI11 binds stay valid as long as the commands. Only one subcommand runs,
// so fields may be shared by several of them.
struct OppFlags {
  // Positional arguments: an opportunity, contact or account id, then a
  // stage id (opp advance) or a contact id (contacts link, unlink).
  std::string id;
  std::string second;
  // Common.
  std::optional<int64_t> limit;
  std::string request_id;
  std::string by;
  std::string note;
  std::string at;
  // Filters.
  std::string account;
  std::string owner;
  std::string stage;
  std::string status;
  std::string closing_before;
  std::string closing_after;
  // Opportunity fields (title is the contact's job title for contacts).
  std::string new_id;
  std::string title;
  std::string amount;
  std::string currency;
  std::string close;
  std::string probability;
  std::vector<std::string> competitors;
  std::string next_step;
  std::string notes;
  std::string reason;
  std::vector<std::string> man;
  std::string opened;
  // Contact fields.
  std::string name;
  std::string role;
  std::optional<int32_t> influence;
  std::string attitude;
  std::string disc;
  std::optional<int32_t> relationship;
  std::string trust;
  // Activities.
  std::string kind;
  std::string opportunity;
  std::vector<std::string> contacts;
  std::string contact;
  std::string summary;
  std::string outcome;
  std::string since;
  std::string until;
  // Reports.
  std::string group_by = "stage";
  std::string from;
  std::string to;
  bool calibrated = false;
  int32_t months = 0;
  std::string start;
  int32_t days = 0;
  std::vector<std::string> stage_days;
  int32_t engagement_days = 0;
  int32_t min_samples = 0;
  // pipeline set.
  std::vector<std::string> stages;
  std::vector<std::string> stage_probabilities;
  std::optional<int32_t> stale_days;
  std::vector<std::string> remaps;
  // The update commands and `contacts trust`, to tell which of their
  // options were given (an empty string value clears a field, so "given"
  // is not "non-empty").
  CLI::App* opp_update = nullptr;
  CLI::App* contact_update = nullptr;
  CLI::App* trust_command = nullptr;
};

// Whether option `name` of `command` was given on the command line.
bool Given(const CLI::App* command, const std::string& name) {
  return command != nullptr && command->count(name) > 0;
}

// --- Enums as flag words ---------------------------------------------------

// "CONTACT_BUYING_ROLE_DECISION_MAKER" -> "decision-maker".
std::string FlagWord(const std::string& name, absl::string_view prefix) {
  return absl::StrReplaceAll(absl::AsciiStrToLower(ShortEnum(name, prefix)),
                             {{"_", "-"}});
}

// The flag words of an enum's values, UNSPECIFIED left out: "a, b, c".
std::string FlagWords(const EnumDescriptor* type, absl::string_view prefix) {
  std::vector<std::string> words;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() != 0) {
      words.push_back(FlagWord(type->value(i)->name(), prefix));
    }
  }
  return absl::StrJoin(words, ", ");
}

// Parses a flag word of an enum ("decision-maker", case-insensitive); with
// `allow_none`, "none" is the UNSPECIFIED value. InvalidArgument naming
// `flag` otherwise.
absl::StatusOr<int> ParseFlagWord(absl::string_view flag,
                                  const std::string& text,
                                  const EnumDescriptor* type,
                                  absl::string_view prefix, bool allow_none) {
  const std::string upper = absl::AsciiStrToUpper(absl::StrReplaceAll(
      absl::StripAsciiWhitespace(text), {{"-", "_"}, {" ", "_"}}));
  if (allow_none && upper == "NONE") return 0;
  const auto* value = type->FindValueByName(absl::StrCat(prefix, upper));
  if (value == nullptr || value->number() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected one of ", FlagWords(type, prefix),
                     allow_none ? " or none" : "", ", got '", text, "'"));
  }
  return value->number();
}

constexpr absl::string_view kRolePrefix = "CONTACT_BUYING_ROLE_";
constexpr absl::string_view kAttitudePrefix = "CONTACT_ATTITUDE_";
constexpr absl::string_view kDiscPrefix = "DISC_STYLE_";
constexpr absl::string_view kTrustPrefix = "ACCOUNT_TRUST_LEVEL_";
constexpr absl::string_view kActivityPrefix = "SALES_ACTIVITY_KIND_";
constexpr absl::string_view kStageKindPrefix = "PIPELINE_STAGE_KIND_";

std::string RoleWords() {
  return FlagWords(v1::ContactBuyingRole_descriptor(), kRolePrefix);
}
std::string AttitudeWords() {
  return FlagWords(v1::ContactAttitude_descriptor(), kAttitudePrefix);
}
std::string DiscWords() {
  return FlagWords(v1::DiscStyle_descriptor(), kDiscPrefix);
}
std::string ActivityWords() {
  return FlagWords(v1::SalesActivityKind_descriptor(), kActivityPrefix);
}

// ParseFlagWord for enum `Enum`, "none" allowed.
template <typename Enum>
absl::StatusOr<Enum> ParseEnumWord(absl::string_view flag,
                                   const std::string& text,
                                   absl::string_view prefix) {
  CUSTRA_ASSIGN_OR_RETURN(
      const int n,
      ParseFlagWord(flag, text, google::protobuf::GetEnumDescriptor<Enum>(),
                    prefix, /*allow_none=*/true));
  return static_cast<Enum>(n);
}

absl::StatusOr<v1::ContactBuyingRole> ParseRole(absl::string_view flag,
                                                const std::string& text) {
  return ParseEnumWord<v1::ContactBuyingRole>(flag, text, kRolePrefix);
}
absl::StatusOr<v1::ContactAttitude> ParseAttitude(absl::string_view flag,
                                                  const std::string& text) {
  return ParseEnumWord<v1::ContactAttitude>(flag, text, kAttitudePrefix);
}
absl::StatusOr<v1::DiscStyle> ParseDisc(absl::string_view flag,
                                        const std::string& text) {
  return ParseEnumWord<v1::DiscStyle>(flag, text, kDiscPrefix);
}

// The display text of `value` (EnumWords); "" for an unspecified or
// unknown value.
template <typename Enum>
std::string ValueText(Enum value, absl::string_view prefix) {
  const auto* v =
      google::protobuf::GetEnumDescriptor<Enum>()->FindValueByNumber(value);
  return value == 0 || v == nullptr ? "" : EnumWords(v->name(), prefix);
}

std::string RoleText(v1::ContactBuyingRole role) {
  return ValueText(role, kRolePrefix);
}
std::string AttitudeText(v1::ContactAttitude attitude) {
  return ValueText(attitude, kAttitudePrefix);
}
std::string DiscText(v1::DiscStyle disc) {
  return ValueText(disc, kDiscPrefix);
}
std::string ActivityText(v1::SalesActivityKind kind) {
  return ValueText(kind, kActivityPrefix);
}
std::string StageKindText(v1::PipelineStageKind kind) {
  return ValueText(kind, kStageKindPrefix);
}
std::string StatusText(v1::OpportunityStatus status) {
  return ValueText(status, "OPPORTUNITY_STATUS_");
}
std::string TrustText(v1::AccountTrustLevel level) {
  switch (level) {
    case v1::ACCOUNT_TRUST_LEVEL_SAFETY:
      return "safety (安全)";
    case v1::ACCOUNT_TRUST_LEVEL_VALUE:
      return "value (价值)";
    case v1::ACCOUNT_TRUST_LEVEL_DEPENDENCE:
      return "dependence (依赖)";
    default:
      return "not assessed";
  }
}

// --- Parsing flag values ---------------------------------------------------

// Parses a day "YYYY-MM-DD" (its start, UTC) or an RFC 3339 time
// ("2025-03-01T09:30:00+08:00") into `time`.
absl::Status ParseTime(absl::string_view flag, const std::string& text,
                       Timestamp* time) {
  std::string rfc3339 = text;
  if (text.size() == 10) {
    v1::Date day;
    CUSTRA_RETURN_IF_ERROR(ParseDate(flag, text, &day));
    rfc3339 = absl::StrCat(DateText(day), "T00:00:00Z");
  }
  if (!google::protobuf::util::TimeUtil::FromString(rfc3339, time)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag,
                     ": expected a date YYYY-MM-DD or an RFC 3339 time like "
                     "2025-03-01T09:30:00+08:00, got '",
                     text, "'"));
  }
  return absl::OkStatus();
}

// A probability in [0, 1], also written as a percentage ("35%").
absl::StatusOr<double> ParseProbability(absl::string_view flag,
                                        absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  const bool percent = absl::ConsumeSuffix(&text, "%");
  CUSTRA_ASSIGN_OR_RETURN(double value, ParseNumber(flag, text));
  if (percent) value /= 100;
  if (value < 0 || value > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": expected a probability from 0 to 1 (or 0% to 100%), got '",
        text, percent ? "%" : "", "'"));
  }
  return value;
}

// A whole number of days from `min` to 3650.
absl::StatusOr<int32_t> ParseDays(absl::string_view flag,
                                  absl::string_view text, int32_t min) {
  int32_t days = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &days) ||
      days < min || days > 3650) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected whole days from ", min,
                     " to 3650, got '", text, "'"));
  }
  return days;
}

// Splits "key=value"; InvalidArgument naming `flag` and `form` otherwise.
absl::StatusOr<std::pair<std::string, std::string>> ParsePair(
    absl::string_view flag, absl::string_view form, const std::string& item) {
  const std::vector<std::string> kv =
      absl::StrSplit(item, absl::MaxSplits('=', 1));
  if (kv.size() != 2 || absl::StripAsciiWhitespace(kv[0]).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected ", form, ", got '", item, "'"));
  }
  return std::make_pair(std::string(absl::StripAsciiWhitespace(kv[0])),
                        std::string(absl::StripAsciiWhitespace(kv[1])));
}

// Parses --man items "money=high", "authority=low", "need=high" (CLI11 has
// split the commas); a level is high, low or none (not assessed).
absl::StatusOr<v1::ManAssessment> ParseMan(
    const std::vector<std::string>& items) {
  v1::ManAssessment man;
  std::set<std::string> seen;
  for (const std::string& item : items) {
    CUSTRA_ASSIGN_OR_RETURN(
        const auto kv,
        ParsePair("--man", "money|authority|need=high|low|none", item));
    const std::string key = absl::AsciiStrToLower(kv.first);
    const std::string value = absl::AsciiStrToLower(kv.second);
    v1::ManLevel level = v1::MAN_LEVEL_UNSPECIFIED;
    if (value == "high") {
      level = v1::MAN_LEVEL_HIGH;
    } else if (value == "low") {
      level = v1::MAN_LEVEL_LOW;
    } else if (value != "none") {
      return absl::InvalidArgumentError(absl::StrCat(
          "--man: ", key, " must be high, low or none, got '", kv.second, "'"));
    }
    if (key == "money") {
      man.set_money(level);
    } else if (key == "authority") {
      man.set_authority(level);
    } else if (key == "need") {
      man.set_need(level);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--man: expected money, authority or need, got '", kv.first, "'"));
    }
    if (!seen.insert(key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--man: ", key, " is given twice"));
    }
  }
  return man;
}

// --amount in currency units, with --currency's code when given.
absl::StatusOr<v1::Money> ParseAmount(const OppFlags& f) {
  CUSTRA_ASSIGN_OR_RETURN(v1::Money money, ParseMoney("--amount", f.amount));
  if (money.amount_micros() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--amount: must be >= 0, got '", f.amount, "'"));
  }
  money.set_currency_code(absl::AsciiStrToUpper(f.currency));
  return money;
}

// --- Filters ---------------------------------------------------------------

// Filter terms joined by AND (the filter syntax of opportunity.proto).
class Filter {
 public:
  // `field="value"` unless `value` is empty. The syntax has no escapes, so
  // a value with a double quote or a backslash is refused, naming `flag`.
  absl::Status Equals(absl::string_view flag, absl::string_view field,
                      const std::string& value) {
    if (value.empty()) return absl::OkStatus();
    CUSTRA_ASSIGN_OR_RETURN(const std::string quoted, Quote(flag, value));
    terms_.push_back(absl::StrCat(field, "=", quoted));
    return absl::OkStatus();
  }
  // `field=VALUE` for an enum value written without its prefix.
  void EqualsEnum(absl::string_view field, absl::string_view value) {
    terms_.push_back(absl::StrCat(field, "=", value));
  }
  // `field OP "YYYY-MM-DD"` unless `text` is empty; `text` must be a date.
  absl::Status CompareDate(absl::string_view flag, absl::string_view field,
                           absl::string_view op, const std::string& text) {
    if (text.empty()) return absl::OkStatus();
    v1::Date date;
    CUSTRA_RETURN_IF_ERROR(ParseDate(flag, text, &date));
    terms_.push_back(absl::StrCat(field, op, "\"", DateText(date), "\""));
    return absl::OkStatus();
  }
  // `field OP "RFC 3339"` for the start of day `text` plus `add_days`.
  absl::Status CompareDayStart(absl::string_view flag, absl::string_view field,
                               absl::string_view op, const std::string& text,
                               int add_days) {
    if (text.empty()) return absl::OkStatus();
    v1::Date date;
    CUSTRA_RETURN_IF_ERROR(ParseDate(flag, text, &date));
    const absl::CivilDay day =
        absl::CivilDay(date.year(), date.month(), date.day()) + add_days;
    terms_.push_back(absl::StrCat(field, op, "\"", absl::FormatCivilTime(day),
                                  "T00:00:00Z\""));
    return absl::OkStatus();
  }

  std::string Text() const { return absl::StrJoin(terms_, " AND "); }

 private:
  static absl::StatusOr<std::string> Quote(absl::string_view flag,
                                           absl::string_view value) {
    if (value.find_first_of("\"\\") != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag,
                       ": a value with a double quote or a backslash cannot be "
                       "filtered on, got '",
                       value, "'"));
    }
    return absl::StrCat("\"", value, "\"");
  }

  std::vector<std::string> terms_;
};

// The ListOpportunities filter of the --owner, --account, --stage,
// --status, --closing-before and --closing-after flags (reports register
// only some of them; the others stay empty).
absl::StatusOr<std::string> OpportunityFilter(const OppFlags& f) {
  Filter filter;
  CUSTRA_RETURN_IF_ERROR(filter.Equals("--stage", "stage_id", f.stage));
  CUSTRA_RETURN_IF_ERROR(filter.Equals("--owner", "owner", f.owner));
  CUSTRA_RETURN_IF_ERROR(filter.Equals("--account", "customer_id", f.account));
  if (!f.status.empty()) {
    filter.EqualsEnum("status", absl::AsciiStrToUpper(f.status));
  }
  CUSTRA_RETURN_IF_ERROR(filter.CompareDate(
      "--closing-after", "expected_close_date", ">", f.closing_after));
  CUSTRA_RETURN_IF_ERROR(filter.CompareDate(
      "--closing-before", "expected_close_date", "<", f.closing_before));
  return filter.Text();
}

// --- Formatting ------------------------------------------------------------

// "2025-03-01" of a timestamp, or "" when unset.
std::string DayText(const Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(time.seconds()),
                          absl::UTCTimeZone());
}

// "2025-03-01 09:30" (UTC) of a timestamp, or "" when unset.
std::string WhenText(const Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M",
                          absl::FromUnixSeconds(time.seconds()),
                          absl::UTCTimeZone());
}

// Free text on one line.
std::string OneLine(const std::string& text) {
  return absl::StrReplaceAll(text, {{"\r\n", " "}, {"\n", " "}, {"\r", " "}});
}

// `money` x `share`, rounded to the micro.
v1::Money Times(const v1::Money& money, double share) {
  v1::Money out = money;
  out.set_amount_micros(
      std::llround(static_cast<double>(money.amount_micros()) * share));
  return out;
}

// The header and cells of a money column: plain units under "NAME CUR"
// when all amounts share one currency code, else each cell with its own.
std::pair<std::string, std::vector<std::string>> MoneyCells(
    absl::string_view name, const std::vector<const v1::Money*>& amounts) {
  bool one_currency = true;
  for (const v1::Money* m : amounts) {
    one_currency =
        one_currency && m->currency_code() == amounts.front()->currency_code();
  }
  std::vector<std::string> cells;
  for (const v1::Money* m : amounts) {
    cells.push_back(one_currency ? Units(*m) : MoneyText(*m));
  }
  std::string header(name);
  if (one_currency && !amounts.empty()) {
    header = MoneyHeader(name, *amounts.front());
  }
  return {header, cells};
}

// The sum of `amounts` when they share one currency code.
std::optional<v1::Money> SumIfOneCurrency(
    const std::vector<const v1::Money*>& amounts) {
  v1::Money sum;
  for (size_t i = 0; i < amounts.size(); ++i) {
    if (i == 0) sum.set_currency_code(amounts[i]->currency_code());
    if (amounts[i]->currency_code() != sum.currency_code()) {
      return std::nullopt;
    }
    sum.set_amount_micros(sum.amount_micros() + amounts[i]->amount_micros());
  }
  return sum;
}

// Money in a report: units and, when known, the report's currency.
std::string ReportMoney(const v1::Money& money, const std::string& currency) {
  v1::Money m = money;
  if (m.currency_code().empty()) m.set_currency_code(currency);
  return MoneyText(m);
}

std::string ManText(const v1::ManAssessment& man) {
  std::vector<std::string> parts;
  auto add = [&](const char* name, v1::ManLevel level) {
    if (level == v1::MAN_LEVEL_UNSPECIFIED) return;
    parts.push_back(absl::StrCat(
        name, " ", EnumWords(v1::ManLevel_Name(level), "MAN_LEVEL_")));
  };
  add("money", man.money());
  add("authority", man.authority());
  add("need", man.need());
  return absl::StrJoin(parts, ", ");
}

// `message` (an opportunity or a contact) after a change: for the table
// format `note` on stderr, then the message with `print`; else PrintOne.
template <typename Message, typename Print>
absl::Status PrintChanged(const Message& message, OutputFormat format,
                          const std::string& note, const Print& print) {
  if (format == OutputFormat::kTable) std::cerr << note << "\n";
  PrintMessage(message, format, print, std::cout);
  return absl::OkStatus();
}

// "updated contact C1 (name, title)": what an update request changed.
template <typename Request>
std::string UpdatedNote(absl::string_view what, const std::string& id,
                        const Request& request) {
  return absl::StrCat("updated ", what, " ", id, " (",
                      absl::StrJoin(request.update_mask().paths(), ", "), ")");
}

// --- Opportunities ---------------------------------------------------------

std::string ProbabilityText(const v1::Opportunity& o) {
  std::string text = absl::StrCat(Percent(o.probability()), "%");
  if (o.has_probability_override() &&
      o.status() == v1::OPPORTUNITY_STATUS_OPEN) {
    absl::StrAppend(&text, " (override)");
  } else if (o.status() == v1::OPPORTUNITY_STATUS_OPEN) {
    absl::StrAppend(&text, " (stage default)");
  }
  return text;
}

void PrintOpportunity(const v1::Opportunity& o, std::ostream& out) {
  out << "Opportunity " << o.id() << ": " << o.title() << "\n\n";
  const Pairs pairs = {
      {"Account", o.customer_id()},
      {"Stage", absl::StrCat(o.stage_id(), " (", StatusText(o.status()), ")")},
      {"Amount", MoneyText(o.amount())},
      {"Probability", ProbabilityText(o)},
      {"Weighted", MoneyText(Times(o.amount(), o.probability()))},
      {"Expected close", DateText(o.expected_close_date(), "not set")},
      {"Owner", o.owner()},
      {"Competitors", absl::StrJoin(o.competitors(), ", ")},
      {"Next step", OneLine(o.next_step())},
      {"MAN", ManText(o.man_assessment())},
      {"Close reason", OneLine(o.close_reason())},
      {"Opened", TimeText(o.open_time())},
      {"In stage since", TimeText(o.stage_enter_time())},
      {"Closed", TimeText(o.close_time())},
      {"Last activity",
       o.has_last_activity_time() ? TimeText(o.last_activity_time()) : "none"},
      {"Updated", TimeText(o.update_time())},
  };
  PrintPairs(pairs, out, /*drop_empty=*/true);
  if (!o.notes().empty()) out << "\nNotes:\n" << o.notes() << "\n";
}

// A table of opportunities; the title last, as it is often wide or CJK.
void PrintOpportunityTable(const std::vector<const v1::Opportunity*>& opps,
                           std::ostream& out) {
  std::vector<const v1::Money*> amounts;
  for (const v1::Opportunity* o : opps) amounts.push_back(&o->amount());
  const auto [amount_header, amount_cells] = MoneyCells("AMOUNT", amounts);
  Table table = {{"ID", "ACCOUNT", "STAGE", amount_header, "PROB %",
                  "CLOSE DATE", "OWNER", "LAST ACTIVITY", "TITLE"}};
  for (size_t i = 0; i < opps.size(); ++i) {
    const v1::Opportunity& o = *opps[i];
    table.push_back({o.id(), o.customer_id(), o.stage_id(), amount_cells[i],
                     Percent(o.probability()),
                     DateText(o.expected_close_date()), o.owner(),
                     DayText(o.last_activity_time()), o.title()});
  }
  PrintTable(table, out);
}

absl::Status CreateOpportunityCommand(Client& client, const OppFlags& f,
                                      OutputFormat format) {
  v1::CreateOpportunityRequest request;
  request.set_request_id(f.request_id);
  v1::Opportunity& o = *request.mutable_opportunity();
  o.set_id(f.new_id);
  o.set_customer_id(f.account);
  o.set_title(f.title);
  CUSTRA_ASSIGN_OR_RETURN(*o.mutable_amount(), ParseAmount(f));
  if (!f.close.empty()) {
    CUSTRA_RETURN_IF_ERROR(
        ParseDate("--close", f.close, o.mutable_expected_close_date()));
  }
  o.set_owner(f.owner);
  o.set_stage_id(f.stage);
  if (!f.probability.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(const double p,
                            ParseProbability("--probability", f.probability));
    o.mutable_probability_override()->set_value(p);
  }
  for (const std::string& c : f.competitors) o.add_competitors(c);
  o.set_next_step(f.next_step);
  o.set_notes(f.notes);
  if (!f.man.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(*o.mutable_man_assessment(), ParseMan(f.man));
  }
  if (!f.opened.empty()) {
    CUSTRA_RETURN_IF_ERROR(
        ParseTime("--opened", f.opened, o.mutable_open_time()));
  }
  CUSTRA_ASSIGN_OR_RETURN(const v1::Opportunity created,
                          client.CreateOpportunity(request));
  return PrintChanged(created, format,
                      absl::StrCat("created opportunity ", created.id()),
                      PrintOpportunity);
}

absl::Status ListOpportunitiesCommand(Client& client, const OppFlags& f,
                                      OutputFormat format) {
  v1::ListOpportunitiesRequest request;
  CUSTRA_ASSIGN_OR_RETURN(*request.mutable_filter(), OpportunityFilter(f));
  std::vector<v1::Opportunity> opps;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchAll(
          f.limit.value_or(0), request,
          [&](const auto& r) { return client.ListOpportunities(r); },
          [](auto& page) { return page.mutable_opportunities(); }, &opps));
  if (PrintRowsUnlessTable(opps, format, std::cout)) return absl::OkStatus();
  std::vector<const v1::Opportunity*> rows;
  std::vector<const v1::Money*> open_amounts;
  std::vector<v1::Money> weighted;
  weighted.reserve(opps.size());
  for (const v1::Opportunity& o : opps) {
    rows.push_back(&o);
    if (o.status() == v1::OPPORTUNITY_STATUS_OPEN) {
      open_amounts.push_back(&o.amount());
      weighted.push_back(Times(o.amount(), o.probability()));
    }
  }
  PrintOpportunityTable(rows, std::cout);
  NoteMore(more, opps.size(), "opportunities");
  if (opps.empty()) return absl::OkStatus();
  std::vector<const v1::Money*> weighted_ptrs;
  for (const v1::Money& m : weighted) weighted_ptrs.push_back(&m);
  const auto open_sum = SumIfOneCurrency(open_amounts);
  const auto weighted_sum = SumIfOneCurrency(weighted_ptrs);
  std::cout << "\n"
            << opps.size() << " opportunities, " << open_amounts.size()
            << " of them open";
  if (!open_amounts.empty() && open_sum && weighted_sum) {
    std::cout << ": " << MoneyText(*open_sum) << " open, "
              << MoneyText(*weighted_sum) << " weighted by probability";
  }
  std::cout << ".\n";
  return absl::OkStatus();
}

// The contacts linked to `o`, with their names from the account's
// contacts.
absl::Status PrintDealContacts(Client& client, const v1::Opportunity& o,
                               std::ostream& out) {
  if (o.contacts().empty()) {
    out << "No contacts linked; link the buying centre with `custra contacts "
           "link "
        << o.id() << " CONTACT --role decision-maker`.\n";
    return absl::OkStatus();
  }
  std::map<std::string, v1::AccountContact> by_id;
  v1::ListContactsRequest request;
  Filter filter;
  CUSTRA_RETURN_IF_ERROR(
      filter.Equals("account", "customer_id", o.customer_id()));
  request.set_filter(filter.Text());
  std::vector<v1::AccountContact> contacts;
  absl::StatusOr<bool> listed = FetchAll(
      0, request, [&](const auto& r) { return client.ListContacts(r); },
      [](auto& page) { return page.mutable_contacts(); }, &contacts);
  if (!listed.ok()) {
    std::cerr << "(could not list the account's contacts: "
              << listed.status().message() << ")\n";
  }
  for (v1::AccountContact& c : contacts) by_id[c.id()] = std::move(c);
  Table table = {{"CONTACT", "ROLE ON DEAL", "ATTITUDE", "INFLUENCE", "LINKED",
                  "NAME", "TITLE", "NOTE"}};
  for (const v1::OpportunityContactLink& link : o.contacts()) {
    const auto it = by_id.find(link.contact_id());
    const v1::AccountContact* c = it == by_id.end() ? nullptr : &it->second;
    table.push_back(
        {link.contact_id(), RoleText(link.role()),
         c ? AttitudeText(c->attitude()) : "",
         c && c->influence() > 0 ? absl::StrCat(c->influence(), "/5") : "",
         DayText(link.link_time()), c ? c->name() : "", c ? c->title() : "",
         OneLine(link.note())});
  }
  PrintTable(table, out);
  return absl::OkStatus();
}

void PrintActivityTable(const std::vector<v1::SalesActivity>& activities,
                        std::ostream& out) {
  Table table = {{"WHEN (UTC)", "KIND", "ACCOUNT", "OPPORTUNITY", "OWNER",
                  "CONTACTS", "SUMMARY", "OUTCOME"}};
  for (const v1::SalesActivity& a : activities) {
    table.push_back({WhenText(a.occur_time()), ActivityText(a.kind()),
                     a.customer_id(), a.opportunity_id(), a.owner(),
                     absl::StrJoin(a.contact_ids(), ","), OneLine(a.summary()),
                     OneLine(a.outcome())});
  }
  PrintTable(table, out);
}

absl::Status ShowOpportunityCommand(Client& client, const OppFlags& f,
                                    OutputFormat format) {
  CUSTRA_ASSIGN_OR_RETURN(const v1::Opportunity o, client.GetOpportunity(f.id));
  if (format != OutputFormat::kTable) {
    PrintOne(o, format, std::cout);
    return absl::OkStatus();
  }
  PrintOpportunity(o, std::cout);
  std::cout << "\nContacts:\n";
  absl::Status contacts = PrintDealContacts(client, o, std::cout);
  if (!contacts.ok()) {
    std::cerr << "(could not show contacts: " << contacts.message() << ")\n";
  }
  // The latest few activities: one small page.
  v1::ListActivitiesRequest request;
  Filter filter;
  CUSTRA_RETURN_IF_ERROR(filter.Equals("id", "opportunity_id", o.id()));
  request.set_filter(filter.Text());
  request.set_page_size(5);
  auto page = client.ListActivities(request);
  if (!page.ok()) {
    std::cerr << "(could not list activities: " << page.status().message()
              << ")\n";
    return absl::OkStatus();
  }
  std::cout << "\nLatest activities:\n";
  if (page->activities().empty()) {
    std::cout << "None; record one with `custra activities log --opp " << o.id()
              << " --kind visit --owner WHO`.\n";
    return absl::OkStatus();
  }
  std::vector<v1::SalesActivity> activities(page->activities().begin(),
                                            page->activities().end());
  PrintActivityTable(activities, std::cout);
  if (!page->next_page_token().empty()) {
    std::cout << "(older ones: `custra activities list --opp " << o.id()
              << "`)\n";
  }
  return absl::OkStatus();
}

absl::Status UpdateOpportunityCommand(Client& client, const OppFlags& f,
                                      OutputFormat format) {
  const CLI::App* cmd = f.opp_update;
  v1::UpdateOpportunityRequest request;
  v1::Opportunity& o = *request.mutable_opportunity();
  o.set_id(f.id);
  auto mask = [&](const char* path) {
    request.mutable_update_mask()->add_paths(path);
  };
  if (Given(cmd, "--title")) {
    o.set_title(f.title);
    mask("title");
  }
  if (Given(cmd, "--amount")) {
    CUSTRA_ASSIGN_OR_RETURN(*o.mutable_amount(), ParseAmount(f));
    mask("amount");
  } else if (Given(cmd, "--currency")) {
    return absl::InvalidArgumentError(
        "--currency: the amount is replaced as a whole; give it with "
        "--amount too");
  }
  if (Given(cmd, "--close")) {
    CUSTRA_RETURN_IF_ERROR(
        ParseDate("--close", f.close, o.mutable_expected_close_date()));
    mask("expected_close_date");
  }
  if (Given(cmd, "--owner")) {
    o.set_owner(f.owner);
    mask("owner");
  }
  if (Given(cmd, "--probability")) {
    if (absl::AsciiStrToLower(f.probability) != "none") {
      CUSTRA_ASSIGN_OR_RETURN(const double p,
                              ParseProbability("--probability", f.probability));
      o.mutable_probability_override()->set_value(p);
    }
    mask("probability_override");
  }
  if (Given(cmd, "--competitor")) {
    for (const std::string& c : f.competitors) {
      if (absl::AsciiStrToLower(c) == "none") {
        if (f.competitors.size() > 1) {
          return absl::InvalidArgumentError(
              "--competitor: none (clear the list) cannot be combined with "
              "names");
        }
        continue;
      }
      o.add_competitors(c);
    }
    mask("competitors");
  }
  if (Given(cmd, "--next-step")) {
    o.set_next_step(f.next_step);
    mask("next_step");
  }
  if (Given(cmd, "--close-reason")) {
    o.set_close_reason(f.reason);
    mask("close_reason");
  }
  if (Given(cmd, "--man")) {
    CUSTRA_ASSIGN_OR_RETURN(*o.mutable_man_assessment(), ParseMan(f.man));
    mask("man_assessment");
  }
  if (Given(cmd, "--notes")) {
    o.set_notes(f.notes);
    mask("notes");
  }
  if (request.update_mask().paths().empty()) {
    return absl::InvalidArgumentError(
        "nothing to update: give at least one of --title, --amount, --close, "
        "--owner, --probability, --competitor, --next-step, --close-reason, "
        "--man, --notes (the stage changes with `custra opp advance`)");
  }
  CUSTRA_ASSIGN_OR_RETURN(const v1::Opportunity updated,
                          client.UpdateOpportunity(request));
  return PrintChanged(updated, format,
                      UpdatedNote("opportunity", updated.id(), request),
                      PrintOpportunity);
}

// --- Stage changes ---------------------------------------------------------

enum class Move { kAdvance, kWin, kLose, kReopen };

// The id of the pipeline's stage of `kind` (the won or the lost stage).
absl::StatusOr<std::string> StageOfKind(const v1::Pipeline& pipeline,
                                        v1::PipelineStageKind kind) {
  for (const v1::PipelineStage& s : pipeline.stages()) {
    if (s.kind() == kind) return s.id();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("the pipeline has no ", StageKindText(kind), " stage"));
}

// The open stage a closed deal was in before it closed: the newest history
// entry that left an open stage of the current pipeline.
absl::StatusOr<std::string> StageBeforeClose(Client& client,
                                             const std::string& id,
                                             const v1::Pipeline& pipeline) {
  std::set<std::string> open;
  for (const v1::PipelineStage& s : pipeline.stages()) {
    if (s.kind() == v1::PIPELINE_STAGE_KIND_OPEN) open.insert(s.id());
  }
  v1::ListStageChangesRequest request;
  request.set_opportunity_id(id);
  std::vector<v1::OpportunityStageChange> history;
  CUSTRA_RETURN_IF_ERROR(
      FetchAll(
          0, request, [&](const auto& r) { return client.ListStageChanges(r); },
          [](auto& page) { return page.mutable_stage_changes(); }, &history)
          .status());
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (open.count(it->from_stage_id()) > 0) return it->from_stage_id();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--stage: opportunity ", id,
      " was never in an open stage of the current pipeline; name the stage "
      "to reopen it in"));
}

void PrintStageChange(const v1::ChangeOpportunityStageResponse& response,
                      std::ostream& out) {
  const v1::Opportunity& o = response.opportunity();
  const v1::OpportunityStageChange& c = response.stage_change();
  out << "Opportunity " << o.id() << ": " << c.from_stage_id() << " -> "
      << c.to_stage_id() << (c.reopen() ? " (reopened)" : "") << " by "
      << c.actor() << " at " << TimeText(c.change_time()) << "\n";
  const Pairs pairs = {
      {"Status", StatusText(o.status())},
      {"Probability", ProbabilityText(o)},
      {"Amount", MoneyText(o.amount())},
      {"Weighted", MoneyText(Times(o.amount(), o.probability()))},
      {"Close reason", o.status() == v1::OPPORTUNITY_STATUS_OPEN
                           ? ""
                           : OneLine(o.close_reason())},
      {"Note", OneLine(c.note())},
  };
  PrintPairs(pairs, out, /*drop_empty=*/true);
}

absl::Status StageCommand(Client& client, const OppFlags& f,
                          OutputFormat format, Move move) {
  v1::ChangeOpportunityStageRequest request;
  request.set_opportunity_id(f.id);
  request.set_note(f.note);
  request.set_request_id(f.request_id);
  if (!f.at.empty()) {
    CUSTRA_RETURN_IF_ERROR(
        ParseTime("--at", f.at, request.mutable_change_time()));
  }
  if (!f.probability.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(const double p,
                            ParseProbability("--probability", f.probability));
    request.mutable_probability_override()->set_value(p);
  }
  std::optional<v1::Pipeline> pipeline;
  if (move != Move::kAdvance && (move != Move::kReopen || f.stage.empty())) {
    CUSTRA_ASSIGN_OR_RETURN(pipeline, client.GetPipeline());
  }
  switch (move) {
    case Move::kAdvance:
      request.set_to_stage_id(f.second);
      request.set_close_reason(f.reason);
      break;
    case Move::kWin: {
      CUSTRA_ASSIGN_OR_RETURN(
          *request.mutable_to_stage_id(),
          StageOfKind(*pipeline, v1::PIPELINE_STAGE_KIND_WON));
      request.set_close_reason(f.reason);
      break;
    }
    case Move::kLose: {
      CUSTRA_ASSIGN_OR_RETURN(
          *request.mutable_to_stage_id(),
          StageOfKind(*pipeline, v1::PIPELINE_STAGE_KIND_LOST));
      request.set_close_reason(f.reason);
      break;
    }
    case Move::kReopen: {
      request.set_reopen(true);
      if (!f.stage.empty()) {
        request.set_to_stage_id(f.stage);
      } else {
        CUSTRA_ASSIGN_OR_RETURN(*request.mutable_to_stage_id(),
                                StageBeforeClose(client, f.id, *pipeline));
        std::cerr << "reopening in " << request.to_stage_id()
                  << ", the stage it was in before it closed\n";
      }
      break;
    }
  }
  if (f.by.empty()) {
    // The salesperson responsible for the deal makes the change.
    CUSTRA_ASSIGN_OR_RETURN(const v1::Opportunity o,
                            client.GetOpportunity(f.id));
    request.set_actor(o.owner());
  } else {
    request.set_actor(f.by);
  }
  CUSTRA_ASSIGN_OR_RETURN(const auto response,
                          client.ChangeOpportunityStage(request));
  PrintMessage(response, format, PrintStageChange, std::cout);
  return absl::OkStatus();
}

absl::Status DeleteOpportunityCommand(Client& client, const OppFlags& f,
                                      OutputFormat) {
  return NoteDeleted(client.DeleteOpportunity(f.id), "opportunity", f.id);
}

absl::Status AdvanceCommand(Client& client, const OppFlags& f,
                            OutputFormat format) {
  return StageCommand(client, f, format, Move::kAdvance);
}
absl::Status WinCommand(Client& client, const OppFlags& f,
                        OutputFormat format) {
  return StageCommand(client, f, format, Move::kWin);
}
absl::Status LoseCommand(Client& client, const OppFlags& f,
                         OutputFormat format) {
  return StageCommand(client, f, format, Move::kLose);
}
absl::Status ReopenCommand(Client& client, const OppFlags& f,
                           OutputFormat format) {
  return StageCommand(client, f, format, Move::kReopen);
}

double DaysBetween(const Timestamp& from, const Timestamp& to) {
  return static_cast<double>(to.seconds() - from.seconds()) / 86400.0;
}

absl::Status HistoryCommand(Client& client, const OppFlags& f,
                            OutputFormat format) {
  v1::ListStageChangesRequest request;
  request.set_opportunity_id(f.id);
  std::vector<v1::OpportunityStageChange> history;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchAll(
          f.limit.value_or(0), request,
          [&](const auto& r) { return client.ListStageChanges(r); },
          [](auto& page) { return page.mutable_stage_changes(); }, &history));
  if (PrintRowsUnlessTable(history, format, std::cout)) {
    return absl::OkStatus();
  }
  std::cout << "Stage history of opportunity " << f.id << ", oldest first\n\n";
  Table table = {
      {"WHEN (UTC)", "FROM", "TO", "DAYS IN STAGE", "PROB %", "BY", "NOTE"}};
  for (size_t i = 0; i < history.size(); ++i) {
    const v1::OpportunityStageChange& c = history[i];
    table.push_back(
        {WhenText(c.change_time()),
         c.from_stage_id().empty() ? "(created)" : c.from_stage_id(),
         absl::StrCat(c.to_stage_id(), c.reopen() ? " (reopened)" : ""),
         i + 1 < history.size()
             ? absl::StrFormat(
                   "%.1f",
                   DaysBetween(c.change_time(), history[i + 1].change_time()))
             : "",
         Percent(c.probability()), c.actor(), OneLine(c.note())});
  }
  PrintTable(table, std::cout);
  NoteMore(more, history.size(), "changes");
  if (!history.empty() && !more) {
    const v1::OpportunityStageChange& last = history.back();
    std::cout << "\n"
              << absl::StrFormat(
                     "%d stage changes since %s; in %s since %s (%.1f days).",
                     history.size() - 1, DayText(history.front().change_time()),
                     last.to_stage_id(), DayText(last.change_time()),
                     absl::ToDoubleHours(
                         absl::Now() -
                         absl::FromUnixSeconds(last.change_time().seconds())) /
                         24.0)
              << "\n";
  }
  return absl::OkStatus();
}

// --- Contacts and trust ----------------------------------------------------

void PrintContact(const v1::AccountContact& c, std::ostream& out) {
  out << "Contact " << c.id() << ": " << c.name() << "\n\n";
  const Pairs pairs = {
      {"Account", c.customer_id()},
      {"Title", c.title()},
      {"Buying role", RoleText(c.buying_role())},
      {"Influence", c.influence() > 0 ? absl::StrCat(c.influence(), "/5") : ""},
      {"Attitude", AttitudeText(c.attitude())},
      {"DISC style", DiscText(c.disc_style())},
      {"Relationship", c.relationship_strength() > 0
                           ? absl::StrCat(c.relationship_strength(), "/5")
                           : ""},
      {"Created", TimeText(c.create_time())},
      {"Updated", TimeText(c.update_time())},
  };
  PrintPairs(pairs, out, /*drop_empty=*/true);
  if (!c.notes().empty()) out << "\nNotes:\n" << c.notes() << "\n";
}

// Sets the contact fields of the flags given to `command` (all of them
// for `add`) and names them in `mask` when it is not null.
absl::Status ContactFields(const OppFlags& f, const CLI::App* command, bool all,
                           v1::AccountContact* c,
                           google::protobuf::FieldMask* mask) {
  auto given = [&](const char* flag, const char* path) {
    const bool yes = all ? true : Given(command, flag);
    if (yes && mask != nullptr) mask->add_paths(path);
    return yes;
  };
  if (given("--name", "name")) c->set_name(f.name);
  if (given("--title", "title")) c->set_title(f.title);
  if (given("--role", "buying_role") && !f.role.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(const auto role, ParseRole("--role", f.role));
    c->set_buying_role(role);
  }
  if (given("--influence", "influence"))
    c->set_influence(f.influence.value_or(0));
  if (given("--attitude", "attitude") && !f.attitude.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(const auto attitude,
                            ParseAttitude("--attitude", f.attitude));
    c->set_attitude(attitude);
  }
  if (given("--disc", "disc_style") && !f.disc.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(const auto disc, ParseDisc("--disc", f.disc));
    c->set_disc_style(disc);
  }
  if (given("--relationship", "relationship_strength")) {
    c->set_relationship_strength(f.relationship.value_or(0));
  }
  if (given("--notes", "notes")) c->set_notes(f.notes);
  return absl::OkStatus();
}

absl::Status AddContactCommand(Client& client, const OppFlags& f,
                               OutputFormat format) {
  v1::CreateContactRequest request;
  request.set_request_id(f.request_id);
  v1::AccountContact& c = *request.mutable_contact();
  c.set_id(f.new_id);
  c.set_customer_id(f.account);
  CUSTRA_RETURN_IF_ERROR(ContactFields(f, nullptr, /*all=*/true, &c, nullptr));
  CUSTRA_ASSIGN_OR_RETURN(const v1::AccountContact created,
                          client.CreateContact(request));
  return PrintChanged(created, format,
                      absl::StrCat("created contact ", created.id()),
                      PrintContact);
}

absl::Status ListContactsCommand(Client& client, const OppFlags& f,
                                 OutputFormat format) {
  Filter filter;
  CUSTRA_RETURN_IF_ERROR(filter.Equals("--account", "customer_id", f.account));
  if (!f.role.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(const auto role, ParseRole("--role", f.role));
    filter.EqualsEnum("buying_role",
                      ShortEnum(v1::ContactBuyingRole_Name(role), kRolePrefix));
  }
  if (!f.attitude.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(const auto attitude,
                            ParseAttitude("--attitude", f.attitude));
    filter.EqualsEnum("attitude", ShortEnum(v1::ContactAttitude_Name(attitude),
                                            kAttitudePrefix));
  }
  if (!f.disc.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(const auto disc, ParseDisc("--disc", f.disc));
    filter.EqualsEnum("disc_style",
                      ShortEnum(v1::DiscStyle_Name(disc), kDiscPrefix));
  }
  v1::ListContactsRequest request;
  request.set_filter(filter.Text());
  std::vector<v1::AccountContact> contacts;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchAll(
          f.limit.value_or(0), request,
          [&](const auto& r) { return client.ListContacts(r); },
          [](auto& page) { return page.mutable_contacts(); }, &contacts));
  if (PrintRowsUnlessTable(contacts, format, std::cout)) {
    return absl::OkStatus();
  }
  Table table = {{"ID", "ACCOUNT", "ROLE", "INFLUENCE", "ATTITUDE",
                  "RELATIONSHIP", "DISC", "NAME", "TITLE"}};
  for (const v1::AccountContact& c : contacts) {
    table.push_back({c.id(), c.customer_id(), RoleText(c.buying_role()),
                     c.influence() > 0 ? absl::StrCat(c.influence(), "/5") : "",
                     AttitudeText(c.attitude()),
                     c.relationship_strength() > 0
                         ? absl::StrCat(c.relationship_strength(), "/5")
                         : "",
                     DiscText(c.disc_style()), c.name(), c.title()});
  }
  PrintTable(table, std::cout);
  NoteMore(more, contacts.size(), "contacts");
  return absl::OkStatus();
}

absl::Status ShowContactCommand(Client& client, const OppFlags& f,
                                OutputFormat format) {
  CUSTRA_ASSIGN_OR_RETURN(const v1::AccountContact c, client.GetContact(f.id));
  PrintMessage(c, format, PrintContact, std::cout);
  return absl::OkStatus();
}

absl::Status UpdateContactCommand(Client& client, const OppFlags& f,
                                  OutputFormat format) {
  v1::UpdateContactRequest request;
  v1::AccountContact& c = *request.mutable_contact();
  c.set_id(f.id);
  CUSTRA_RETURN_IF_ERROR(ContactFields(f, f.contact_update, /*all=*/false, &c,
                                       request.mutable_update_mask()));
  if (request.update_mask().paths().empty()) {
    return absl::InvalidArgumentError(
        "nothing to update: give at least one of --name, --title, --role, "
        "--influence, --attitude, --disc, --relationship, --notes");
  }
  CUSTRA_ASSIGN_OR_RETURN(const v1::AccountContact updated,
                          client.UpdateContact(request));
  return PrintChanged(updated, format,
                      UpdatedNote("contact", updated.id(), request),
                      PrintContact);
}

absl::Status DeleteContactCommand(Client& client, const OppFlags& f,
                                  OutputFormat) {
  return NoteDeleted(client.DeleteContact(f.id), "contact", f.id);
}

// `o` after a contact link changed: for the table format `note` on stderr,
// then the deal's contacts; else the opportunity with PrintOne.
absl::Status PrintLinkChange(Client& client, const v1::Opportunity& o,
                             OutputFormat format, const std::string& note) {
  if (format != OutputFormat::kTable) {
    PrintOne(o, format, std::cout);
    return absl::OkStatus();
  }
  std::cerr << note << "\n";
  std::cout << "Contacts of opportunity " << o.id() << ":\n";
  return PrintDealContacts(client, o, std::cout);
}

absl::Status LinkCommand(Client& client, const OppFlags& f,
                         OutputFormat format) {
  v1::LinkOpportunityContactRequest request;
  request.set_opportunity_id(f.id);
  v1::OpportunityContactLink& link = *request.mutable_link();
  link.set_contact_id(f.second);
  if (!f.role.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(const auto role, ParseRole("--role", f.role));
    link.set_role(role);
  }
  link.set_note(f.note);
  CUSTRA_ASSIGN_OR_RETURN(const v1::Opportunity o,
                          client.LinkOpportunityContact(request));
  return PrintLinkChange(
      client, o, format,
      absl::StrCat("linked contact ", f.second, " to opportunity ", o.id()));
}

absl::Status UnlinkCommand(Client& client, const OppFlags& f,
                           OutputFormat format) {
  CUSTRA_ASSIGN_OR_RETURN(const v1::Opportunity o,
                          client.UnlinkOpportunityContact(f.id, f.second));
  return PrintLinkChange(client, o, format,
                         absl::StrCat("unlinked contact ", f.second,
                                      " from opportunity ", o.id()));
}

void PrintTrust(const v1::AccountTrust& t, std::ostream& out) {
  out << "Account " << t.customer_id() << ": trust level "
      << TrustText(t.level());
  if (t.level() != v1::ACCOUNT_TRUST_LEVEL_UNSPECIFIED) {
    out << " (of safety -> value -> dependence)";
  }
  out << "\n";
  const Pairs pairs = {
      {"Set by", t.updated_by()},
      {"Set at", TimeText(t.update_time())},
      {"Note", OneLine(t.note())},
  };
  PrintPairs(pairs, out, /*drop_empty=*/true);
}

absl::Status TrustCommand(Client& client, const OppFlags& f,
                          OutputFormat format) {
  const CLI::App* command = f.trust_command;
  v1::AccountTrust trust;
  if (Given(command, "--set")) {
    if (f.by.empty()) {
      return absl::InvalidArgumentError(
          "--by: who sets the trust level is required with --set");
    }
    CUSTRA_ASSIGN_OR_RETURN(
        const int level,
        ParseFlagWord("--set", f.trust, v1::AccountTrustLevel_descriptor(),
                      kTrustPrefix, /*allow_none=*/true));
    v1::SetAccountTrustRequest request;
    request.set_customer_id(f.id);
    request.set_level(static_cast<v1::AccountTrustLevel>(level));
    request.set_note(f.note);
    request.set_actor(f.by);
    CUSTRA_ASSIGN_OR_RETURN(trust, client.SetAccountTrust(request));
  } else {
    if (Given(command, "--note") || Given(command, "--by")) {
      return absl::InvalidArgumentError("--note and --by go with --set LEVEL");
    }
    CUSTRA_ASSIGN_OR_RETURN(trust, client.GetAccountTrust(f.id));
  }
  PrintMessage(trust, format, PrintTrust, std::cout);
  return absl::OkStatus();
}

// --- Activities ------------------------------------------------------------

absl::Status LogActivityCommand(Client& client, const OppFlags& f,
                                OutputFormat format) {
  v1::LogActivityRequest request;
  request.set_request_id(f.request_id);
  v1::SalesActivity& a = *request.mutable_activity();
  a.set_customer_id(f.account);
  a.set_opportunity_id(f.opportunity);
  if (f.account.empty()) {
    if (f.opportunity.empty()) {
      return absl::InvalidArgumentError(
          "--account: the account is required (or give --opp, whose account "
          "is used)");
    }
    CUSTRA_ASSIGN_OR_RETURN(const v1::Opportunity o,
                            client.GetOpportunity(f.opportunity));
    a.set_customer_id(o.customer_id());
  }
  CUSTRA_ASSIGN_OR_RETURN(
      const int kind,
      ParseFlagWord("--kind", f.kind, v1::SalesActivityKind_descriptor(),
                    kActivityPrefix, /*allow_none=*/false));
  a.set_kind(static_cast<v1::SalesActivityKind>(kind));
  if (f.at.empty()) {
    *a.mutable_occur_time() =
        google::protobuf::util::TimeUtil::GetCurrentTime();
  } else {
    CUSTRA_RETURN_IF_ERROR(ParseTime("--at", f.at, a.mutable_occur_time()));
  }
  for (const std::string& c : f.contacts) a.add_contact_ids(c);
  a.set_owner(f.owner);
  a.set_summary(f.summary);
  a.set_outcome(f.outcome);
  a.set_next_step(f.next_step);
  CUSTRA_ASSIGN_OR_RETURN(const v1::SalesActivity logged,
                          client.LogActivity(request));
  if (format != OutputFormat::kTable) {
    PrintOne(logged, format, std::cout);
    return absl::OkStatus();
  }
  std::cout << "Logged activity " << logged.id() << "\n\n";
  const Pairs pairs = {
      {"Kind", ActivityText(logged.kind())},
      {"When", TimeText(logged.occur_time())},
      {"Account", logged.customer_id()},
      {"Opportunity", logged.opportunity_id()},
      {"Owner", logged.owner()},
      {"Contacts", absl::StrJoin(logged.contact_ids(), ", ")},
      {"Summary", OneLine(logged.summary())},
      {"Outcome", OneLine(logged.outcome())},
      {"Next step", OneLine(logged.next_step())},
  };
  PrintPairs(pairs, std::cout, /*drop_empty=*/true);
  return absl::OkStatus();
}

absl::Status ListActivitiesCommand(Client& client, const OppFlags& f,
                                   OutputFormat format) {
  Filter filter;
  CUSTRA_RETURN_IF_ERROR(filter.Equals("--account", "customer_id", f.account));
  CUSTRA_RETURN_IF_ERROR(
      filter.Equals("--opp", "opportunity_id", f.opportunity));
  CUSTRA_RETURN_IF_ERROR(filter.Equals("--contact", "contact_id", f.contact));
  CUSTRA_RETURN_IF_ERROR(filter.Equals("--owner", "owner", f.owner));
  if (!f.kind.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(
        const int kind,
        ParseFlagWord("--kind", f.kind, v1::SalesActivityKind_descriptor(),
                      kActivityPrefix, /*allow_none=*/false));
    filter.EqualsEnum(
        "kind", ShortEnum(v1::SalesActivityKind_Name(kind), kActivityPrefix));
  }
  CUSTRA_RETURN_IF_ERROR(
      filter.CompareDayStart("--since", "occur_time", ">=", f.since, 0));
  CUSTRA_RETURN_IF_ERROR(
      filter.CompareDayStart("--until", "occur_time", "<", f.until, 1));
  v1::ListActivitiesRequest request;
  request.set_filter(filter.Text());
  std::vector<v1::SalesActivity> activities;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchAll(
          f.limit.value_or(format == OutputFormat::kTable ? 50 : 0), request,
          [&](const auto& r) { return client.ListActivities(r); },
          [](auto& page) { return page.mutable_activities(); }, &activities));
  if (PrintRowsUnlessTable(activities, format, std::cout)) {
    return absl::OkStatus();
  }
  PrintActivityTable(activities, std::cout);
  NoteMore(more, activities.size(), "activities");
  return absl::OkStatus();
}

// --- Pipeline definition ---------------------------------------------------

void PrintPipeline(const v1::Pipeline& pipeline, std::ostream& out) {
  const int32_t default_days = pipeline.default_stale_after_days() > 0
                                   ? pipeline.default_stale_after_days()
                                   : 30;
  out << "Pipeline";
  if (pipeline.has_update_time()) {
    out << " (changed " << TimeText(pipeline.update_time()) << ")";
  } else {
    out << " (the default pipeline)";
  }
  out << ": open deals go stale after " << default_days
      << " days without activity unless their stage says otherwise\n\n";
  Table table = {{"ID", "KIND", "PROB %", "STALE AFTER DAYS", "NAME"}};
  bool uses_default = false;
  for (const v1::PipelineStage& s : pipeline.stages()) {
    std::string stale;
    if (s.kind() == v1::PIPELINE_STAGE_KIND_OPEN) {
      uses_default = uses_default || s.stale_after_days() <= 0;
      stale = s.stale_after_days() > 0 ? absl::StrCat(s.stale_after_days())
                                       : absl::StrCat(default_days, "*");
    }
    table.push_back({s.id(), StageKindText(s.kind()),
                     Percent(s.default_probability()), stale,
                     s.display_name()});
  }
  PrintTable(table, out);
  if (uses_default) out << "* the pipeline's default\n";
}

absl::Status ShowPipelineCommand(Client& client, const OppFlags&,
                                 OutputFormat format) {
  CUSTRA_ASSIGN_OR_RETURN(const v1::Pipeline pipeline, client.GetPipeline());
  PrintMessage(pipeline, format, PrintPipeline, std::cout);
  return absl::OkStatus();
}

// Parses --stage "id:name:probability[:open|won|lost][:stale_days]".
// `kind_given` tells whether the kind was written.
absl::StatusOr<v1::PipelineStage> ParseStageSpec(const std::string& spec,
                                                 bool* kind_given) {
  const std::vector<std::string> fields = absl::StrSplit(spec, ':');
  const auto error = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--stage: expected id:name:probability[:open|won|lost][:stale_days]",
        why, ", got '", spec, "'"));
  };
  if (fields.size() < 3 || fields.size() > 5) return error("");
  v1::PipelineStage stage;
  stage.set_id(std::string(absl::StripAsciiWhitespace(fields[0])));
  stage.set_display_name(std::string(absl::StripAsciiWhitespace(fields[1])));
  if (stage.id().empty() || stage.display_name().empty()) {
    return error(" (the id and the name cannot be empty)");
  }
  CUSTRA_ASSIGN_OR_RETURN(const double p,
                          ParseProbability("--stage", fields[2]));
  stage.set_default_probability(p);
  *kind_given = false;
  for (size_t i = 3; i < fields.size(); ++i) {
    const std::string field =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(fields[i]));
    if (field == "open" || field == "won" || field == "lost") {
      if (*kind_given) return error(" (the kind is given twice)");
      stage.set_kind(field == "open"  ? v1::PIPELINE_STAGE_KIND_OPEN
                     : field == "won" ? v1::PIPELINE_STAGE_KIND_WON
                                      : v1::PIPELINE_STAGE_KIND_LOST);
      *kind_given = true;
    } else {
      CUSTRA_ASSIGN_OR_RETURN(const int32_t days,
                              ParseDays("--stage", field, 0));
      stage.set_stale_after_days(days);
    }
  }
  return stage;
}

absl::Status SetPipelineCommand(Client& client, const OppFlags& f,
                                OutputFormat format) {
  v1::UpdatePipelineRequest request;
  v1::Pipeline& pipeline = *request.mutable_pipeline();
  if (!f.stages.empty()) {
    if (!f.stage_probabilities.empty()) {
      return absl::InvalidArgumentError(
          "--probability edits the current stages; with --stage, give each "
          "stage's probability in its --stage value");
    }
    // Stages without a written kind take it from their position: the last
    // one is lost, the one before it won, the others open.
    const int n = static_cast<int>(f.stages.size());
    for (int i = 0; i < n; ++i) {
      bool kind_given = false;
      CUSTRA_ASSIGN_OR_RETURN(v1::PipelineStage stage,
                              ParseStageSpec(f.stages[i], &kind_given));
      if (!kind_given) {
        stage.set_kind(i == n - 1   ? v1::PIPELINE_STAGE_KIND_LOST
                       : i == n - 2 ? v1::PIPELINE_STAGE_KIND_WON
                                    : v1::PIPELINE_STAGE_KIND_OPEN);
      }
      *pipeline.add_stages() = std::move(stage);
    }
    request.mutable_update_mask()->add_paths("stages");
  } else if (!f.stage_probabilities.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(const v1::Pipeline current, client.GetPipeline());
    *pipeline.mutable_stages() = current.stages();
    for (const std::string& item : f.stage_probabilities) {
      CUSTRA_ASSIGN_OR_RETURN(const auto kv,
                              ParsePair("--probability", "stage=P", item));
      CUSTRA_ASSIGN_OR_RETURN(const double p,
                              ParseProbability("--probability", kv.second));
      auto* stages = pipeline.mutable_stages();
      auto it = std::find_if(
          stages->begin(), stages->end(),
          [&](const v1::PipelineStage& s) { return s.id() == kv.first; });
      if (it == stages->end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--probability: the pipeline has no stage '", kv.first, "'"));
      }
      it->set_default_probability(p);
    }
    request.mutable_update_mask()->add_paths("stages");
  }
  if (f.stale_days) {
    pipeline.set_default_stale_after_days(*f.stale_days);
    request.mutable_update_mask()->add_paths("default_stale_after_days");
  }
  if (request.update_mask().paths().empty()) {
    return absl::InvalidArgumentError(
        "nothing to set: give --stage (repeated, to replace the stages), "
        "--probability STAGE=P or --stale-days N");
  }
  for (const std::string& item : f.remaps) {
    CUSTRA_ASSIGN_OR_RETURN(
        const auto kv, ParsePair("--remap", "removed_stage=new_stage", item));
    (*request.mutable_stage_remap())[kv.first] = kv.second;
  }
  CUSTRA_ASSIGN_OR_RETURN(const auto response, client.UpdatePipeline(request));
  if (format != OutputFormat::kTable) {
    PrintOne(response, format, std::cout);
    return absl::OkStatus();
  }
  PrintPipeline(response.pipeline(), std::cout);
  if (response.remapped_opportunity_count() > 0) {
    std::cout << "\nMoved " << response.remapped_opportunity_count()
              << " opportunities out of removed stages.\n";
  }
  return absl::OkStatus();
}

// --- Pipeline summary ------------------------------------------------------

// Sets the period of a report request from --from and --to (each
// optional).
template <typename Request>
absl::Status SetPeriod(const OppFlags& f, Request* request) {
  if (!f.from.empty()) {
    CUSTRA_RETURN_IF_ERROR(
        ParseDate("--from", f.from, request->mutable_start_date()));
  }
  if (!f.to.empty()) {
    CUSTRA_RETURN_IF_ERROR(
        ParseDate("--to", f.to, request->mutable_end_date()));
  }
  return absl::OkStatus();
}

// Sets the moment a report request measures at from --as-of (optional:
// the server takes now).
template <typename Request>
absl::Status SetAsOf(const OppFlags& f, Request* request) {
  if (f.at.empty()) return absl::OkStatus();
  return ParseTime("--as-of", f.at, request->mutable_as_of_time());
}

v1::ForecastProbabilitySource ProbabilitySource(const OppFlags& f) {
  return f.calibrated ? v1::FORECAST_PROBABILITY_SOURCE_CALIBRATED
                      : v1::FORECAST_PROBABILITY_SOURCE_OPPORTUNITY;
}

// The share `part` is of `whole`, or nullopt when `whole` is 0.
std::optional<double> Share(int64_t part, int64_t whole) {
  if (whole == 0) return std::nullopt;
  return static_cast<double>(part) / static_cast<double>(whole);
}

void PrintFunnel(const v1::PipelineSummaryGroup& group,
                 const std::string& currency, std::ostream& out) {
  std::map<std::string, const v1::PipelineStageConversion*> conversions;
  for (const auto& c : group.conversions()) conversions[c.stage_id()] = &c;
  v1::Money sample;
  sample.set_currency_code(currency);
  Table table = {{"STAGE", "KIND", "COUNT", MoneyHeader("AMOUNT", sample),
                  MoneyHeader("WEIGHTED", sample), "PROB %", "CONV %",
                  "AVG DAYS", "NAME"}};
  auto row = [&](const v1::PipelineStageTotals& t, const std::string& stage,
                 const std::string& kind) {
    const auto probability =
        Share(t.weighted_amount().amount_micros(), t.amount().amount_micros());
    std::vector<std::string> line = {stage,
                                     kind,
                                     absl::StrCat(t.count()),
                                     Units(t.amount()),
                                     Units(t.weighted_amount()),
                                     probability ? Percent(*probability) : "",
                                     "",
                                     "",
                                     t.display_name()};
    const auto it = conversions.find(t.stage_id());
    if (it != conversions.end() && !t.stage_id().empty()) {
      const v1::PipelineStageConversion& c = *it->second;
      if (c.entered_count() > 0) line[6] = Percent(c.conversion_rate());
      if (c.completed_stay_count() > 0) {
        line[7] = absl::StrFormat("%.1f", c.average_days_in_stage());
      }
    }
    table.push_back(std::move(line));
  };
  for (const v1::PipelineStageTotals& t : group.stages()) {
    row(t, t.stage_id(), StageKindText(t.kind()));
  }
  row(group.open_total(), "open total", "");
  PrintTable(table, out);
}

// One line on what a summary group says.
std::string SummaryInterpretation(const v1::PipelineSummaryGroup& g,
                                  const std::string& currency) {
  const v1::PipelineStageTotals& open = g.open_total();
  std::string line =
      absl::StrFormat("Open pipeline: %d deals worth %s, weighted %s",
                      open.count(), ReportMoney(open.amount(), currency),
                      ReportMoney(open.weighted_amount(), currency));
  if (const auto share = Share(open.weighted_amount().amount_micros(),
                               open.amount().amount_micros())) {
    absl::StrAppend(&line, " (", Percent(*share), "% of it)");
  }
  absl::StrAppend(&line, ". ");
  const int32_t closed = g.won_count() + g.lost_count();
  if (closed == 0) {
    absl::StrAppend(&line, "No deal was won or lost in the period.");
  } else {
    absl::StrAppendFormat(
        &line, "Win rate %s%% by count (%d won, %d lost) and %s%% by amount",
        Percent(g.win_rate_by_count()), g.won_count(), g.lost_count(),
        Percent(g.win_rate_by_amount()));
    if (g.won_count() > 0) {
      absl::StrAppendFormat(&line,
                            "; won deals took %.0f days from open to close "
                            "on average",
                            g.average_won_cycle_days());
    }
    absl::StrAppend(&line, ".");
  }
  return line;
}

absl::Status SummaryCommand(Client& client, const OppFlags& f,
                            OutputFormat format) {
  v1::GetPipelineSummaryRequest request;
  CUSTRA_ASSIGN_OR_RETURN(*request.mutable_filter(), OpportunityFilter(f));
  CUSTRA_RETURN_IF_ERROR(SetPeriod(f, &request));
  const bool by_owner = f.group_by == "owner";
  request.set_group_by(by_owner ? v1::PIPELINE_SUMMARY_GROUP_BY_OWNER
                                : v1::PIPELINE_SUMMARY_GROUP_BY_STAGE);
  request.set_currency_code(absl::AsciiStrToUpper(f.currency));
  request.set_probability_source(ProbabilitySource(f));
  CUSTRA_ASSIGN_OR_RETURN(const auto summary,
                          client.GetPipelineSummary(request));
  if (by_owner ? PrintReportUnlessTable(summary, summary.by_owner(), format,
                                        std::cout)
               : PrintReportUnlessTable(summary, summary.total().stages(),
                                        format, std::cout)) {
    return absl::OkStatus();
  }
  const std::string& currency = summary.currency_code();
  std::cout << "Pipeline summary: open deals as of now; wins, losses, "
               "conversion and days in stage from "
            << DateText(summary.start_date()) << " to "
            << DateText(summary.end_date());
  if (!currency.empty()) std::cout << "; amounts in " << currency;
  std::cout << (f.calibrated ? "; weighted with calibrated stage probabilities"
                             : "")
            << "\n\n";
  PrintFunnel(summary.total(), currency, std::cout);
  std::cout << "COUNT: open deals now, won/lost deals closed in the period. "
               "PROB %: weighted / amount.\nCONV %: of the deals that entered "
               "the stage in the period, the share that moved on to a later "
               "stage or won. AVG DAYS: mean stay in the stage.\n\n"
            << SummaryInterpretation(summary.total(), currency) << "\n";
  if (summary.other_currency_count() > 0) {
    std::cout << summary.other_currency_count()
              << " opportunities in other currencies are left out (pick one "
                 "with --currency).\n";
  }
  if (!by_owner) return absl::OkStatus();
  std::cout << "\nBy owner:\n";
  v1::Money sample;
  sample.set_currency_code(currency);
  Table table = {{"OWNER", "OPEN", MoneyHeader("OPEN AMOUNT", sample),
                  MoneyHeader("WEIGHTED", sample), "WON", "LOST", "WIN %",
                  MoneyHeader("WON AMOUNT", sample), "WON CYCLE DAYS"}};
  for (const v1::PipelineSummaryGroup& g : summary.by_owner()) {
    const bool closed = g.won_count() + g.lost_count() > 0;
    table.push_back(
        {g.owner(), absl::StrCat(g.open_total().count()),
         Units(g.open_total().amount()),
         Units(g.open_total().weighted_amount()), absl::StrCat(g.won_count()),
         absl::StrCat(g.lost_count()),
         closed ? Percent(g.win_rate_by_count()) : "", Units(g.won_amount()),
         g.won_count() > 0 ? absl::StrFormat("%.0f", g.average_won_cycle_days())
                           : ""});
  }
  PrintTable(table, std::cout);
  return absl::OkStatus();
}

// --- Forecast --------------------------------------------------------------

absl::Status ForecastCommand(Client& client, const OppFlags& f,
                             OutputFormat format) {
  v1::GetForecastRequest request;
  request.set_months(f.months);
  if (!f.start.empty()) {
    CUSTRA_RETURN_IF_ERROR(
        ParseDate("--start", f.start, request.mutable_start_date()));
  }
  CUSTRA_ASSIGN_OR_RETURN(*request.mutable_filter(), OpportunityFilter(f));
  request.set_currency_code(absl::AsciiStrToUpper(f.currency));
  request.set_probability_source(ProbabilitySource(f));
  CUSTRA_ASSIGN_OR_RETURN(const auto forecast, client.GetForecast(request));
  if (PrintReportUnlessTable(forecast, forecast.months(), format, std::cout)) {
    return absl::OkStatus();
  }
  const std::string& currency = forecast.currency_code();
  const auto& months = forecast.months();
  if (months.empty()) {
    std::cout << "(no months)\n";
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat(
      "Forecast of open deals by expected close month, %04d-%02d to "
      "%04d-%02d",
      months[0].year(), months[0].month(), months[months.size() - 1].year(),
      months[months.size() - 1].month());
  if (!currency.empty()) std::cout << "; amounts in " << currency;
  std::cout << (f.calibrated ? "; weighted with calibrated stage probabilities"
                             : "; weighted with each deal's probability")
            << "\n\n";
  v1::Money sample;
  sample.set_currency_code(currency);
  Table table = {{"MONTH", "OPEN DEALS", MoneyHeader("BEST CASE", sample),
                  MoneyHeader("WEIGHTED", sample), "WON DEALS",
                  MoneyHeader("WON", sample)}};
  const v1::ForecastMonth& overdue = forecast.overdue();
  if (overdue.open_count() > 0) {
    table.push_back({"overdue", absl::StrCat(overdue.open_count()),
                     Units(overdue.best_case_amount()),
                     Units(overdue.weighted_amount()), "", ""});
  }
  int64_t open_count = 0;
  int64_t won_count = 0;
  v1::Money won;
  won.set_currency_code(currency);
  for (const v1::ForecastMonth& m : months) {
    table.push_back({absl::StrFormat("%04d-%02d", m.year(), m.month()),
                     absl::StrCat(m.open_count()), Units(m.best_case_amount()),
                     Units(m.weighted_amount()), absl::StrCat(m.won_count()),
                     Units(m.won_amount())});
    open_count += m.open_count();
    won_count += m.won_count();
    won.set_amount_micros(won.amount_micros() + m.won_amount().amount_micros());
  }
  table.push_back({"total", absl::StrCat(open_count),
                   Units(forecast.total_best_case_amount()),
                   Units(forecast.total_weighted_amount()),
                   absl::StrCat(won_count), Units(won)});
  PrintTable(table, std::cout);
  std::cout << "\n"
            << absl::StrFormat(
                   "Over the %d months: %s expected (weighted) from %d open "
                   "deals worth up to %s (best case), on top of %s already "
                   "won.",
                   months.size(),
                   ReportMoney(forecast.total_weighted_amount(), currency),
                   open_count,
                   ReportMoney(forecast.total_best_case_amount(), currency),
                   MoneyText(won))
            << "\n";
  if (overdue.open_count() > 0) {
    std::cout << overdue.open_count() << " open deals worth "
              << ReportMoney(overdue.best_case_amount(), currency)
              << " were expected to close before the first month: give them "
                 "a new date with `custra opp update ID --close "
                 "YYYY-MM-DD`.\n";
  }
  if (forecast.other_currency_count() > 0) {
    std::cout << forecast.other_currency_count()
              << " opportunities in other currencies are left out (pick one "
                 "with --currency).\n";
  }
  return absl::OkStatus();
}

// --- Stale deals, coverage, calibration ------------------------------------

absl::Status StaleCommand(Client& client, const OppFlags& f,
                          OutputFormat format) {
  v1::ListStaleOpportunitiesRequest request;
  request.set_inactive_days(f.days);
  for (const std::string& item : f.stage_days) {
    CUSTRA_ASSIGN_OR_RETURN(const auto kv,
                            ParsePair("--stage-days", "stage=N", item));
    CUSTRA_ASSIGN_OR_RETURN(const int32_t days,
                            ParseDays("--stage-days", kv.second, 1));
    (*request.mutable_stage_inactive_days())[kv.first] = days;
  }
  CUSTRA_RETURN_IF_ERROR(SetAsOf(f, &request));
  CUSTRA_ASSIGN_OR_RETURN(*request.mutable_filter(), OpportunityFilter(f));
  std::vector<v1::StaleOpportunity> stale;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchAll(
          f.limit.value_or(0), request,
          [&](const auto& r) { return client.ListStaleOpportunities(r); },
          [](auto& page) { return page.mutable_stale_opportunities(); },
          &stale));
  if (PrintRowsUnlessTable(stale, format, std::cout)) {
    return absl::OkStatus();
  }
  std::cout << "Open deals without activity for longer than "
            << (f.days > 0 ? absl::StrCat(f.days, " days")
                           : std::string("their stage's threshold"))
            << ", most neglected first\n\n";
  std::vector<const v1::Money*> amounts;
  for (const auto& s : stale) amounts.push_back(&s.opportunity().amount());
  const auto [amount_header, amount_cells] = MoneyCells("AMOUNT", amounts);
  Table table = {{"ID", "ACCOUNT", "STAGE", "OWNER", amount_header,
                  "LAST ACTIVITY", "INACTIVE DAYS", "THRESHOLD", "TITLE"}};
  for (size_t i = 0; i < stale.size(); ++i) {
    const v1::Opportunity& o = stale[i].opportunity();
    table.push_back(
        {o.id(), o.customer_id(), o.stage_id(), o.owner(), amount_cells[i],
         o.has_last_activity_time() ? DayText(o.last_activity_time()) : "never",
         absl::StrCat(stale[i].inactive_days()),
         absl::StrCat(stale[i].threshold_days()), o.title()});
  }
  PrintTable(table, std::cout);
  NoteMore(more, stale.size(), "stale deals");
  if (stale.empty()) {
    std::cout << "\nEvery open deal has had activity within its threshold.\n";
    return absl::OkStatus();
  }
  const auto total = SumIfOneCurrency(amounts);
  const v1::StaleOpportunity& worst = stale.front();
  std::cout << "\n"
            << stale.size() << (more ? "+" : "") << " open deals"
            << (total ? absl::StrCat(" worth ", MoneyText(*total)) : "")
            << " have gone quiet; " << worst.opportunity().id() << " ("
            << worst.opportunity().owner() << ") has had none for "
            << worst.inactive_days()
            << " days. Record the next touch with `custra activities log "
               "--opp ID --kind visit --owner WHO`.\n";
  return absl::OkStatus();
}

std::string GapText(v1::DecisionMakerGapReason reason) {
  switch (reason) {
    case v1::DECISION_MAKER_GAP_REASON_NO_DECISION_MAKER:
      return "no decision maker";
    case v1::DECISION_MAKER_GAP_REASON_NOT_ENGAGED:
      return "not engaged";
    case v1::DECISION_MAKER_GAP_REASON_BLOCKER:
      return "blocker";
    default:
      return "";
  }
}

absl::Status CoverageCommand(Client& client, const OppFlags& f,
                             OutputFormat format) {
  v1::GetDecisionMakerCoverageRequest request;
  request.set_engagement_days(f.engagement_days);
  CUSTRA_RETURN_IF_ERROR(SetAsOf(f, &request));
  CUSTRA_ASSIGN_OR_RETURN(*request.mutable_filter(), OpportunityFilter(f));
  // The counts come from the first page; the gaps from all pages read.
  v1::GetDecisionMakerCoverageResponse merged;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchMerged(
          f.limit.value_or(0), request,
          [&](const auto& r) { return client.GetDecisionMakerCoverage(r); },
          [](auto& page) { return page.mutable_gaps(); }, &merged));
  if (PrintReportUnlessTable(merged, merged.gaps(), format, std::cout)) {
    return absl::OkStatus();
  }
  const int32_t open = merged.open_count();
  std::cout << "Decision-maker coverage of " << open
            << " open deals (engaged: took part in an activity on the account "
               "in the last "
            << (f.engagement_days > 0 ? f.engagement_days : 90) << " days)\n\n";
  auto share = [&](int32_t n) {
    const auto s = Share(n, open);
    return s ? Percent(*s) : std::string();
  };
  Table counts = {
      {"COVERAGE", "DEALS", "SHARE %"},
      {"engaged decision maker", absl::StrCat(merged.covered_count()),
       share(merged.covered_count())},
      {"no decision maker linked",
       absl::StrCat(merged.no_decision_maker_count()),
       share(merged.no_decision_maker_count())},
      {"decision maker not engaged", absl::StrCat(merged.not_engaged_count()),
       share(merged.not_engaged_count())},
      {"decision maker is a blocker", absl::StrCat(merged.blocker_count()),
       share(merged.blocker_count())}};
  PrintTable(counts, std::cout);
  if (!merged.gaps().empty()) {
    std::cout << "\nUncovered deals, largest first:\n";
    std::vector<const v1::Money*> amounts;
    for (const auto& g : merged.gaps()) {
      amounts.push_back(&g.opportunity().amount());
    }
    const auto [amount_header, amount_cells] = MoneyCells("AMOUNT", amounts);
    Table table = {{"ID", "ACCOUNT", "STAGE", "OWNER", amount_header, "GAP",
                    "DECISION MAKERS", "TITLE"}};
    for (int i = 0; i < merged.gaps_size(); ++i) {
      const v1::DecisionMakerCoverageGap& g = merged.gaps(i);
      const v1::Opportunity& o = g.opportunity();
      table.push_back(
          {o.id(), o.customer_id(), o.stage_id(), o.owner(),
           amount_cells[static_cast<size_t>(i)], GapText(g.reason()),
           absl::StrJoin(g.decision_maker_contact_ids(), ","), o.title()});
    }
    PrintTable(table, std::cout);
    NoteMore(more, static_cast<size_t>(merged.gaps_size()), "uncovered deals");
  }
  std::cout << "\n";
  if (open == 0) {
    std::cout << "There are no open deals.\n";
  } else {
    std::cout << absl::StrFormat(
        "%s%% of the open deals have an engaged decision maker who is not a "
        "blocker; %d do not. Link decision makers with `custra contacts link "
        "OPP CONTACT --role decision-maker` and meet them.\n",
        Percent(merged.coverage_rate()), open - merged.covered_count());
  }
  return absl::OkStatus();
}

absl::Status CalibrationCommand(Client& client, const OppFlags& f,
                                OutputFormat format) {
  v1::GetCalibratedProbabilitiesRequest request;
  request.set_min_samples(f.min_samples);
  CUSTRA_RETURN_IF_ERROR(SetPeriod(f, &request));
  CUSTRA_ASSIGN_OR_RETURN(*request.mutable_filter(), OpportunityFilter(f));
  CUSTRA_ASSIGN_OR_RETURN(const auto calibration,
                          client.GetCalibratedProbabilities(request));
  if (PrintReportUnlessTable(calibration, calibration.stages(), format,
                             std::cout)) {
    return absl::OkStatus();
  }
  std::cout << "Win probability of each open stage: configured, and observed "
               "in "
            << calibration.closed_count() << " closed deals (a stage needs "
            << calibration.min_samples()
            << " deals that passed through it for its observed rate to be "
               "used)\n\n";
  Table table = {{"STAGE", "CONFIGURED %", "OBSERVED %", "SAMPLES", "WON",
                  "CALIBRATED %", "SOURCE", "NAME"}};
  const v1::CalibratedStageProbability* widest = nullptr;
  std::vector<std::string> observed_settings;
  int observed = 0;
  for (const v1::CalibratedStageProbability& s : calibration.stages()) {
    const bool is_observed = s.source() == v1::CALIBRATION_SOURCE_OBSERVED;
    table.push_back(
        {s.stage_id(), Percent(s.configured_probability()),
         s.sample_count() > 0 ? Percent(s.observed_probability()) : "",
         absl::StrCat(s.sample_count()), absl::StrCat(s.won_count()),
         Percent(s.calibrated_probability()),
         is_observed ? "observed" : "configured", s.display_name()});
    if (!is_observed) continue;
    ++observed;
    if (widest == nullptr ||
        std::fabs(s.observed_probability() - s.configured_probability()) >
            std::fabs(widest->observed_probability() -
                      widest->configured_probability())) {
      widest = &s;
    }
    if (std::fabs(s.observed_probability() - s.configured_probability()) >=
        0.0005) {
      observed_settings.push_back(
          absl::StrFormat("%s=%.3f", s.stage_id(), s.observed_probability()));
    }
  }
  PrintTable(table, std::cout);
  std::cout << "\n"
            << observed << " of " << calibration.stages_size()
            << " open stages have enough closed deals to use their observed "
               "win rate.";
  if (widest != nullptr) {
    std::cout << absl::StrFormat(
        " The largest gap is %s: configured at %s%%, but %s%% of the %d "
        "deals that passed through it were won.",
        widest->stage_id(), Percent(widest->configured_probability()),
        Percent(widest->observed_probability()), widest->sample_count());
  }
  std::cout << "\n";
  if (!observed_settings.empty()) {
    std::cout << "To adopt the observed rates as the stage defaults: `custra "
                 "pipeline set --probability "
              << absl::StrJoin(observed_settings, ",") << "`.\n";
  }
  return absl::OkStatus();
}

}  // namespace

void AddOpportunityCommands(CLI::App& app, Cli& cli, CommandArgs& /*args*/,
                            int& exit_code) {
  // Every flag of these commands lives in OppFlags, none in CommandArgs.
  const TenantCommands<OppFlags> commands(cli, exit_code);
  OppFlags* const flags = commands.flags();
  auto add_report_filters = [flags](CLI::App* cmd) {
    cmd->add_option("--owner", flags->owner, "Only this owner's deals");
    cmd->add_option("--account", flags->account,
                    "Only deals on this account (customer id)");
  };
  auto add_new_id = [flags](CLI::App* cmd) {
    cmd->add_option("--id", flags->new_id,
                    "Client-chosen id ^[A-Za-z0-9._-]{1,64}$ (default: "
                    "assigned by the server)");
  };
  // The positional ids of contacts link and unlink.
  auto add_link_ids = [flags](CLI::App* cmd) {
    cmd->add_option("opportunity", flags->id, "Opportunity id")->required();
    cmd->add_option("contact", flags->second, "Contact id")->required();
  };
  // The currency and the probabilities of the reports on amounts.
  auto add_money_report_options = [flags](CLI::App* cmd) {
    cmd->add_option("--currency", flags->currency,
                    "Report in this ISO 4217 currency (default: the "
                    "tenant's); deals in others are left out");
    cmd->add_flag("--calibrated", flags->calibrated,
                  "Weight amounts with the calibrated stage probabilities "
                  "instead of each deal's own");
  };
  // The moment of the reports on the open deals.
  auto add_as_of = [flags](CLI::App* cmd) {
    cmd->add_option("--as-of", flags->at,
                    "Measure at this moment, YYYY-MM-DD or RFC 3339 "
                    "(default: now)");
  };
  const std::string role_help = "Buying role: " + RoleWords();

  // --- custra opp ... ---
  CLI::App* opp = app.add_subcommand(
      "opp",
      "B2B opportunities (商机): create, list, show and update deals, move "
      "them through the pipeline (advance, win, lose, reopen) and see their "
      "stage history (tenant API key)");
  opp->require_subcommand(1);

  CLI::App* create = opp->add_subcommand(
      "create",
      "Create an opportunity on an existing account, in --stage or the first "
      "open stage of the pipeline");
  create->add_option("--account", flags->account, "Account (customer id)")
      ->required();
  create->add_option("--title", flags->title, "Short title of the deal")
      ->required();
  create
      ->add_option("--amount", flags->amount,
                   "Expected deal value in currency units, e.g. 120000 (0 "
                   "while unknown)")
      ->required();
  create->add_option("--currency", flags->currency,
                     "ISO 4217 code of --amount, e.g. CNY (default: the "
                     "tenant's currency)");
  create->add_option("--close", flags->close,
                     "Expected close date YYYY-MM-DD (required by the server; "
                     "drives the forecast)");
  create->add_option("--owner", flags->owner,
                     "The salesperson responsible, e.g. an e-mail address "
                     "(required by the server)");
  create->add_option("--stage", flags->stage,
                     "Initial stage id (default: the first open stage; a won "
                     "or lost stage imports a closed deal)");
  create->add_option("--probability", flags->probability,
                     "Win probability override, 0 to 1 or a percentage like "
                     "35% (default: the stage's)");
  create
      ->add_option("--competitor", flags->competitors,
                   "A competitor on the deal (repeatable)")
      ->allow_extra_args(false);
  create->add_option("--next-step", flags->next_step, "The next agreed step");
  create->add_option("--notes", flags->notes, "Free notes");
  create
      ->add_option("--man", flags->man,
                   "MAN assessment, e.g. money=high,authority=low,need=high "
                   "(levels high, low, none)")
      ->delimiter(',')
      ->allow_extra_args(false);
  add_new_id(create);
  create->add_option("--opened", flags->opened,
                     "When the deal was opened, YYYY-MM-DD or RFC 3339, to "
                     "import deals (default: now)");
  AddRequestId(create, &flags->request_id,
               "returns the opportunity already created");
  create->callback(commands.Run(&CreateOpportunityCommand));

  CLI::App* list = opp->add_subcommand(
      "list", "List opportunities, oldest created first, with filters");
  list->add_option("--stage", flags->stage, "Only deals in this stage id");
  add_report_filters(list);
  list->add_option("--status", flags->status, "Only open, won or lost deals")
      ->check(CLI::IsMember({"open", "won", "lost"}, CLI::ignore_case));
  list->add_option("--closing-before", flags->closing_before,
                   "Only deals expected to close before this day YYYY-MM-DD "
                   "(exclusive)");
  list->add_option("--closing-after", flags->closing_after,
                   "Only deals expected to close after this day YYYY-MM-DD "
                   "(exclusive)");
  commands.AddLimit(list, "At most this many (default: all)");
  list->callback(commands.Run(&ListOpportunitiesCommand));

  CLI::App* show = opp->add_subcommand(
      "show",
      "Show one opportunity with its contacts and its latest activities");
  show->add_option("id", flags->id, "Opportunity id")->required();
  show->callback(commands.Run(&ShowOpportunityCommand));

  CLI::App* update = opp->add_subcommand(
      "update",
      "Change the given fields of an opportunity (the others keep their "
      "values; the stage changes with advance, win, lose and reopen)");
  flags->opp_update = update;
  update->add_option("id", flags->id, "Opportunity id")->required();
  update->add_option("--title", flags->title, "Short title of the deal");
  update->add_option("--amount", flags->amount,
                     "Expected deal value in currency units");
  update->add_option("--currency", flags->currency,
                     "ISO 4217 code of --amount (default: the tenant's "
                     "currency)");
  update->add_option("--close", flags->close, "Expected close date YYYY-MM-DD");
  update->add_option("--owner", flags->owner, "The salesperson responsible");
  update->add_option("--probability", flags->probability,
                     "Win probability override, 0 to 1 or a percentage; none "
                     "returns to the stage default");
  update
      ->add_option("--competitor", flags->competitors,
                   "Competitors (repeatable; replaces the list; none clears "
                   "it)")
      ->allow_extra_args(false);
  update->add_option("--next-step", flags->next_step,
                     "The next agreed step (\"\" clears)");
  update->add_option("--close-reason", flags->reason,
                     "Why the deal was won or lost");
  update
      ->add_option("--man", flags->man,
                   "MAN assessment, replacing the old one: e.g. "
                   "money=high,authority=low (dimensions not given are not "
                   "assessed)")
      ->delimiter(',')
      ->allow_extra_args(false);
  update->add_option("--notes", flags->notes, "Free notes (\"\" clears)");
  update->callback(commands.Run(&UpdateOpportunityCommand));

  auto add_stage_change_options = [&](CLI::App* cmd) {
    cmd->add_option("--by", flags->by,
                    "Who makes the change (default: the deal's owner)");
    cmd->add_option("--note", flags->note, "Note on the change");
    cmd->add_option("--at", flags->at,
                    "When the change took effect, YYYY-MM-DD or RFC 3339, "
                    "not in the future (default: now)");
    AddRequestId(cmd, &flags->request_id, "returns the first result");
  };

  CLI::App* advance = opp->add_subcommand(
      "advance",
      "Move an open opportunity to another stage, forwards or backwards");
  advance->add_option("id", flags->id, "Opportunity id")->required();
  advance->add_option("stage", flags->second, "Stage id to move to")
      ->required();
  advance->add_option("--probability", flags->probability,
                      "Win probability override in the new stage, 0 to 1 or "
                      "a percentage (default: the stage's)");
  advance->add_option("--reason", flags->reason,
                      "Close reason, when STAGE is the won or lost stage");
  add_stage_change_options(advance);
  advance->callback(commands.Run(&AdvanceCommand));

  CLI::App* win = opp->add_subcommand(
      "win", "Close an opportunity as won (the pipeline's won stage)");
  win->add_option("id", flags->id, "Opportunity id")->required();
  win->add_option("--reason", flags->reason, "Why the deal was won");
  add_stage_change_options(win);
  win->callback(commands.Run(&WinCommand));

  CLI::App* lose = opp->add_subcommand(
      "lose", "Close an opportunity as lost (the pipeline's lost stage)");
  lose->add_option("id", flags->id, "Opportunity id")->required();
  lose->add_option("--reason", flags->reason, "Why the deal was lost")
      ->required();
  add_stage_change_options(lose);
  lose->callback(commands.Run(&LoseCommand));

  CLI::App* reopen =
      opp->add_subcommand("reopen", "Reopen a won or lost opportunity");
  reopen->add_option("id", flags->id, "Opportunity id")->required();
  reopen->add_option("--stage", flags->stage,
                     "Stage id to reopen it in (default: the open stage it "
                     "was in before it closed)");
  reopen->add_option("--probability", flags->probability,
                     "Win probability override in that stage, 0 to 1 or a "
                     "percentage (default: the stage's)");
  add_stage_change_options(reopen);
  reopen->callback(commands.Run(&ReopenCommand));

  CLI::App* history = opp->add_subcommand(
      "history",
      "An opportunity's stage changes, oldest first, with the days spent in "
      "each stage");
  history->add_option("id", flags->id, "Opportunity id")->required();
  commands.AddLimit(history, "At most this many changes (default: all)");
  history->callback(commands.Run(&HistoryCommand));

  CLI::App* remove = opp->add_subcommand(
      "delete",
      "Delete an opportunity with its stage history and contact links (its "
      "activities are kept, detached)");
  remove->add_option("id", flags->id, "Opportunity id")->required();
  remove->callback(commands.Run(&DeleteOpportunityCommand));

  // --- custra contacts ... ---
  CLI::App* contacts = app.add_subcommand(
      "contacts",
      "The buying centre of accounts: contacts with their buying role, "
      "influence, attitude and DISC style, their roles on opportunities, "
      "and the account's trust level (tenant API key)");
  contacts->require_subcommand(1);

  auto add_contact_fields = [&](CLI::App* cmd) {
    cmd->add_option("--title", flags->title, "Job title, e.g. 信息中心主任");
    cmd->add_option("--role", flags->role, role_help + " (none clears)");
    cmd->add_option("--influence", flags->influence,
                    "Weight in decisions, 1 (little) to 5 (decisive); 0 "
                    "clears")
        ->check(CLI::Range(0, 5));
    cmd->add_option("--attitude", flags->attitude,
                    "Stance towards us: " + AttitudeWords() + " (none clears)");
    cmd->add_option(
        "--disc", flags->disc,
        "DISC communication style: " + DiscWords() + " (none clears)");
    cmd->add_option("--relationship", flags->relationship,
                    "Strength of our relationship, 1 (none yet) to 5 (close "
                    "and trusted); 0 clears")
        ->check(CLI::Range(0, 5));
    cmd->add_option("--notes", flags->notes, "Free notes");
  };

  CLI::App* add =
      contacts->add_subcommand("add", "Add a contact to an existing account");
  add->add_option("--account", flags->account, "Account (customer id)")
      ->required();
  add->add_option("--name", flags->name, "Full name")->required();
  add_contact_fields(add);
  add_new_id(add);
  AddRequestId(add, &flags->request_id, "returns the contact already created");
  add->callback(commands.Run(&AddContactCommand));

  CLI::App* contacts_list = contacts->add_subcommand(
      "list", "List contacts, by account and then name");
  contacts_list->add_option("--account", flags->account,
                            "Only this account's contacts");
  contacts_list->add_option("--role", flags->role, "Only this " + role_help);
  contacts_list->add_option("--attitude", flags->attitude,
                            "Only this attitude: " + AttitudeWords());
  contacts_list->add_option("--disc", flags->disc,
                            "Only this DISC style: " + DiscWords());
  commands.AddLimit(contacts_list, "At most this many (default: all)");
  contacts_list->callback(commands.Run(&ListContactsCommand));

  CLI::App* contacts_show =
      contacts->add_subcommand("show", "Show one contact");
  contacts_show->add_option("id", flags->id, "Contact id")->required();
  contacts_show->callback(commands.Run(&ShowContactCommand));

  CLI::App* contacts_update = contacts->add_subcommand(
      "update",
      "Change the given fields of a contact (the others keep their values)");
  flags->contact_update = contacts_update;
  contacts_update->add_option("id", flags->id, "Contact id")->required();
  contacts_update->add_option("--name", flags->name, "Full name");
  add_contact_fields(contacts_update);
  contacts_update->callback(commands.Run(&UpdateContactCommand));

  CLI::App* contacts_delete = contacts->add_subcommand(
      "delete",
      "Delete a contact with its opportunity links and activity mentions");
  contacts_delete->add_option("id", flags->id, "Contact id")->required();
  contacts_delete->callback(commands.Run(&DeleteContactCommand));

  CLI::App* link = contacts->add_subcommand(
      "link",
      "Link a contact of the deal's account to an opportunity with the role "
      "they play on it (re-linking replaces role and note)");
  add_link_ids(link);
  link->add_option("--role", flags->role,
                   "Role on this deal: " + RoleWords() +
                       " (default: the contact's buying role)");
  link->add_option("--note", flags->note, "The contact's part in this deal");
  link->callback(commands.Run(&LinkCommand));

  CLI::App* unlink = contacts->add_subcommand(
      "unlink", "Remove a contact from an opportunity");
  add_link_ids(unlink);
  unlink->callback(commands.Run(&UnlinkCommand));

  CLI::App* trust = contacts->add_subcommand(
      "trust",
      "Show an account's trust level on the trust pyramid (信任金字塔: "
      "safety -> value -> dependence), or set it with --set");
  trust->add_option("account", flags->id, "Account (customer id)")->required();
  trust->add_option("--set", flags->trust,
                    "New level: safety, value or dependence; none clears the "
                    "assessment");
  trust->add_option("--note", flags->note, "Why the account is at this level");
  trust->add_option("--by", flags->by, "Who assesses (required with --set)");
  flags->trust_command = trust;
  trust->callback(commands.Run(&TrustCommand));

  // --- custra activities ... ---
  CLI::App* activities = app.add_subcommand(
      "activities",
      "Sales activities on accounts and opportunities: visits, calls, "
      "meetings, presentations, gifts (tenant API key)");
  activities->require_subcommand(1);

  CLI::App* log_activity = activities->add_subcommand(
      "log",
      "Record an activity; on an opportunity it also refreshes the deal's "
      "last activity (which drives staleness)");
  log_activity
      ->add_option("--kind", flags->kind, "What it was: " + ActivityWords())
      ->required();
  log_activity
      ->add_option("--owner", flags->owner, "Who carried it out on our side")
      ->required();
  log_activity->add_option(
      "--account", flags->account,
      "Account (customer id); default: the account of --opp");
  log_activity->add_option("--opp", flags->opportunity,
                           "The opportunity it was for (default: none, an "
                           "account-level activity)");
  log_activity
      ->add_option("--contact", flags->contacts,
                   "A contact who took part (repeatable)")
      ->allow_extra_args(false);
  log_activity->add_option(
      "--at", flags->at,
      "When it took place, YYYY-MM-DD or RFC 3339 (default: "
      "now)");
  log_activity->add_option("--summary", flags->summary, "What it was about");
  log_activity->add_option("--outcome", flags->outcome, "What came of it");
  log_activity->add_option("--next-step", flags->next_step,
                           "The next step agreed");
  AddRequestId(log_activity, &flags->request_id, "records nothing new");
  log_activity->callback(commands.Run(&LogActivityCommand));

  CLI::App* activities_list =
      activities->add_subcommand("list", "List activities, newest first");
  activities_list->add_option("--account", flags->account,
                              "Only on this account");
  activities_list->add_option("--opp", flags->opportunity,
                              "Only on this opportunity");
  activities_list->add_option("--contact", flags->contact,
                              "Only those this contact took part in");
  activities_list->add_option("--owner", flags->owner,
                              "Only those this person carried out");
  activities_list->add_option("--kind", flags->kind,
                              "Only this kind: " + ActivityWords());
  activities_list->add_option("--since", flags->since,
                              "Only on or after this day YYYY-MM-DD (UTC)");
  activities_list->add_option("--until", flags->until,
                              "Only on or before this day YYYY-MM-DD (UTC)");
  commands.AddLimit(
      activities_list,
      "At most this many (default 50 for the table, all for json/csv; "
      "0: all)");
  activities_list->callback(commands.Run(&ListActivitiesCommand));

  // --- custra pipeline [...] ---
  CLI::App* pipeline = app.add_subcommand(
      "pipeline",
      "Without a subcommand: the pipeline summary as a funnel (per stage "
      "count, amount, weighted amount, conversion and days in stage; win "
      "rates and cycle times over a period). Subcommands show and change "
      "the stages and report stale deals, decision-maker coverage and "
      "calibrated win probabilities (tenant API key)");
  pipeline->require_subcommand(0, 1);
  pipeline
      ->add_option("--by", flags->group_by,
                   "stage (default) or owner: add one summary per owner")
      ->check(CLI::IsMember({"stage", "owner"}));
  pipeline->add_option("--from", flags->from,
                       "First day YYYY-MM-DD of the period of win rates, "
                       "conversion and cycle times (default: a year before "
                       "--to)");
  pipeline->add_option("--to", flags->to,
                       "Last day YYYY-MM-DD of that period (default: today, "
                       "UTC)");
  add_money_report_options(pipeline);
  add_report_filters(pipeline);
  pipeline->callback([pipeline, summary = commands.Run(&SummaryCommand)] {
    if (!pipeline->get_subcommands().empty()) return;  // A subcommand ran.
    summary();
  });

  CLI::App* pipeline_show = pipeline->add_subcommand(
      "show",
      "Show the pipeline's stages: id, kind, default win probability, "
      "staleness threshold");
  pipeline_show->callback(commands.Run(&ShowPipelineCommand));

  CLI::App* pipeline_set = pipeline->add_subcommand(
      "set",
      "Change the pipeline: replace its stages (--stage, repeated, in "
      "order: open stages, then won, then lost), change stage "
      "probabilities (--probability) or the staleness default");
  pipeline_set
      ->add_option("--stage", flags->stages,
                   "id:name:probability[:open|won|lost][:stale_days], "
                   "repeated in pipeline order, e.g. pain:Pain "
                   "(痛点):0.2:45. Without a kind the last stage is lost, "
                   "the one before it won, the others open. The name cannot "
                   "hold ':'")
      ->allow_extra_args(false);
  pipeline_set
      ->add_option("--probability", flags->stage_probabilities,
                   "STAGE=P: the default win probability of a current stage "
                   "(0 to 1 or a percentage; repeatable or comma-separated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  pipeline_set
      ->add_option("--stale-days", flags->stale_days,
                   "Days without activity after which an open deal is stale, "
                   "for stages without their own threshold, 1 to 3650")
      ->check(CLI::Range(1, 3650));
  pipeline_set
      ->add_option("--remap", flags->remaps,
                   "REMOVED=STAGE: move the deals of a removed stage to a "
                   "stage of the new pipeline (repeatable or "
                   "comma-separated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  pipeline_set->callback(commands.Run(&SetPipelineCommand));

  CLI::App* stale = pipeline->add_subcommand(
      "stale",
      "Open deals without activity for longer than their stage's threshold "
      "(or --days), most neglected first");
  stale
      ->add_option("--days", flags->days,
                   "Threshold in days for every stage, 1 to 3650 (default: "
                   "the pipeline's per-stage thresholds)")
      ->check(CLI::Range(1, 3650));
  stale
      ->add_option("--stage-days", flags->stage_days,
                   "STAGE=N: threshold for one stage, overriding --days "
                   "(repeatable or comma-separated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  add_as_of(stale);
  add_report_filters(stale);
  commands.AddLimit(stale, "At most this many (default: all)");
  stale->callback(commands.Run(&StaleCommand));

  CLI::App* coverage = pipeline->add_subcommand(
      "coverage",
      "Decision-maker coverage of the open deals: how many have an engaged "
      "decision maker who is not a blocker, and which deals lack one");
  coverage
      ->add_option("--engagement-days", flags->engagement_days,
                   "A decision maker is engaged after an activity on the "
                   "account within this many days, 1 to 3650 (default 90)")
      ->check(CLI::Range(1, 3650));
  add_as_of(coverage);
  add_report_filters(coverage);
  commands.AddLimit(coverage,
                    "At most this many uncovered deals (default: all)");
  coverage->callback(commands.Run(&CoverageCommand));

  CLI::App* calibration = pipeline->add_subcommand(
      "calibration",
      "Each open stage's win probability as configured and as observed in "
      "the closed deals that passed through it, with sample sizes");
  calibration
      ->add_option("--min-samples", flags->min_samples,
                   "Closed deals a stage needs for its observed rate to be "
                   "used, 1 to 100000 (default 20)")
      ->check(CLI::Range(1, 100000));
  calibration->add_option("--from", flags->from,
                          "Learn from deals closed on or after this day "
                          "YYYY-MM-DD (default: all)");
  calibration->add_option("--to", flags->to,
                          "Learn from deals closed on or before this day "
                          "YYYY-MM-DD (default: today)");
  add_report_filters(calibration);
  calibration->callback(commands.Run(&CalibrationCommand));

  // --- custra forecast ---
  CLI::App* forecast = app.add_subcommand(
      "forecast",
      "Open business by expected close month: best case and weighted amounts "
      "per month, what is already won, and overdue deals (tenant API key)");
  forecast
      ->add_option("--months", flags->months,
                   "Months to forecast, 1 to 36 (default 6)")
      ->check(CLI::Range(1, 36));
  forecast->add_option("--start", flags->start,
                       "A day YYYY-MM-DD in the first month (default: today, "
                       "UTC)");
  add_money_report_options(forecast);
  add_report_filters(forecast);
  forecast->callback(commands.Run(&ForecastCommand));
}

}  // namespace custra::cli
