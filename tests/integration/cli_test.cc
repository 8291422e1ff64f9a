// The `custra` CLI, run as a user would, against a real server.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/testing/certificates.h"
#include "tests/testing/server_process.h"
#include "tests/testing/temp_dir.h"

namespace custra {
namespace {

using ::custra::testing::CliBinaryPath;
using ::custra::testing::ServerProcess;
using ::custra::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

struct CliRun {
  int exit_code = -1;
  std::string out;  // stdout and stderr together.
};

// Runs the CLI against the server at `address`, with the admin key in
// `admin_key_file`, `env` (VAR=value ...) and arguments.
CliRun RunCliAt(const std::string& address, const std::string& admin_key_file,
                const std::string& args, const std::string& env = "") {
  const std::string command = absl::StrCat(
      "env -u CUSTRA_API_KEY -u CUSTRA_TENANT -u CUSTRA_ADMIN_KEY ",
      "CUSTRA_SERVER=", address, " CUSTRA_ADMIN_KEY_FILE=", admin_key_file, " ",
      env, " ", CliBinaryPath(), " ", args, " 2>&1");
  CliRun run;
  FILE* pipe = popen(command.c_str(), "r");
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    run.out.append(buffer, n);
  }
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    options.data_dir = dir_.path() / "data";
    auto server = ServerProcess::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    key_file_ = (dir_.path() / "admin.key").string();
    std::ofstream(key_file_) << server_->admin_key() << "\n";
  }

  // Runs the CLI with `env` (VAR=value ...) and arguments.
  CliRun RunCli(const std::string& args, const std::string& env = "") {
    return RunCliAt(server_->address(), key_file_, args, env);
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::string key_file_;
};

TEST_F(CliTest, IssuedKeyWorksForItsTenantAndIsRefusedForAnother) {
  ASSERT_EQ(RunCli("tenant create acme").exit_code, 0);
  ASSERT_EQ(RunCli("tenant create beta").exit_code, 0);
  CliRun issued = RunCli("key issue acme -q");
  ASSERT_EQ(issued.exit_code, 0) << issued.out;
  const std::string key(absl::StripAsciiWhitespace(issued.out));
  ASSERT_TRUE(absl::StartsWith(key, "ck_")) << key;

  CliRun ok =
      RunCli("customers list", "CUSTRA_TENANT=acme CUSTRA_API_KEY=" + key);
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  CliRun denied =
      RunCli("customers list", "CUSTRA_TENANT=beta CUSTRA_API_KEY=" + key);
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.out, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(denied.out, HasSubstr("reason: ACCESS_DENIED"));
}

TEST_F(CliTest, ErrorsShowCodeFieldAndReason) {
  CliRun bad = RunCli("tenant create ../x");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.out, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(bad.out,
              HasSubstr("field tenant_id: must start with a lowercase"));
  EXPECT_THAT(bad.out, HasSubstr("reason: INVALID_TENANT_ID"));
  CliRun no_key = RunCli("tenant list", "CUSTRA_ADMIN_KEY_FILE=");
  EXPECT_NE(no_key.exit_code, 0);
  EXPECT_THAT(no_key.out, HasSubstr("no admin key"));
}

TEST_F(CliTest, OutputFormatsForMachines) {
  ASSERT_EQ(RunCli("tenant create acme --name 'Acme Ltd'").exit_code, 0);
  CliRun json = RunCli("tenant list -o json");
  ASSERT_EQ(json.exit_code, 0);
  EXPECT_THAT(json.out, HasSubstr("\"id\": \"acme\""));
  EXPECT_THAT(json.out, HasSubstr("\"display_name\": \"Acme Ltd\""));
  CliRun csv = RunCli("tenant list --output csv");
  ASSERT_EQ(csv.exit_code, 0);
  EXPECT_TRUE(absl::StartsWith(csv.out, "id,display_name,create_time"))
      << csv.out;
  EXPECT_THAT(csv.out, HasSubstr("\nacme,Acme Ltd,"));
}

TEST_F(CliTest, HelpDescribesEveryCommand) {
  CliRun help = RunCli("--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"tenant", "key", "backup", "restore", "import",
                              "customers", "health"}) {
    EXPECT_THAT(help.out, HasSubstr(command));
  }
  CliRun import_help = RunCli("import transactions --help");
  EXPECT_THAT(import_help.out, HasSubstr("--format"));
  EXPECT_THAT(import_help.out, HasSubstr("online-retail"));
}

TEST_F(CliTest, BackupAndRestoreThroughTheCli) {
  ASSERT_EQ(RunCli("tenant create acme").exit_code, 0);
  const std::string file = (dir_.path() / "acme.bak").string();
  CliRun backup = RunCli("backup acme " + file);
  ASSERT_EQ(backup.exit_code, 0) << backup.out;
  EXPECT_THAT(backup.out, HasSubstr("SHA-256 verified"));
  CliRun restore = RunCli("restore acme-copy " + file);
  EXPECT_EQ(restore.exit_code, 0) << restore.out;
  EXPECT_EQ(RunCli("tenant show acme-copy").exit_code, 0);
}

// CDNOW_master.txt (Fader, Hardie & Lee): 69,659 purchases of 23,570
// customers. Importing it twice must give all duplicates the second time.
TEST_F(CliTest, CdnowImportCountsAndReimportIsAllDuplicates) {
  const std::string master =
      std::string(CUSTRA_SHARED_DATA_DIR) + "/cdnow/CDNOW_master.txt";
  if (!std::filesystem::exists(master)) {
    GTEST_SKIP() << "shared data not present: " << master;
  }
  ASSERT_EQ(RunCli("tenant create cdnow").exit_code, 0);
  const std::string key(
      absl::StripAsciiWhitespace(RunCli("key issue cdnow -q").out));
  const std::string env = "CUSTRA_TENANT=cdnow CUSTRA_API_KEY=" + key;
  CliRun first = RunCli("import transactions --format cdnow -q " + master, env);
  ASSERT_EQ(first.exit_code, 0) << first.out;
  EXPECT_THAT(first.out, HasSubstr("accepted           69659"));
  EXPECT_THAT(first.out, HasSubstr("rejected           0"));
  EXPECT_THAT(first.out, HasSubstr("customers created  23570"));
  CliRun second =
      RunCli("import transactions --format cdnow -q " + master, env);
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_THAT(second.out, HasSubstr("accepted           0"));
  EXPECT_THAT(second.out, HasSubstr("duplicates         69659"));
  EXPECT_THAT(second.out, HasSubstr("customers created  0"));
  // Customer 1 bought once, on 1997-01-01, for $11.77.
  CliRun one = RunCli("customers get 1 -o json", env);
  EXPECT_THAT(one.out, HasSubstr("\"amount_micros\": \"11770000\""));
  EXPECT_THAT(one.out, HasSubstr("1997-01-01T00:00:00Z"));
}

TEST_F(CliTest, CsvImportReportsRejectedLines) {
  ASSERT_EQ(RunCli("tenant create shop").exit_code, 0);
  const std::string key(
      absl::StripAsciiWhitespace(RunCli("key issue shop -q").out));
  const std::string csv = (dir_.path() / "orders.csv").string();
  std::ofstream(csv) << "Ref,Client,Date,Total\n"
                        "r1,c1,2024-03-01,10.00\n"
                        "r2,c1,not-a-date,5.00\n"
                        "r3,,2024-03-02,7.50\n"
                        "r4,c2,2024-03-02,7.50\n";
  const std::string rejects = (dir_.path() / "rejects.csv").string();
  CliRun run = RunCli(
      "import transactions -q --currency EUR --map "
      "id=Ref,customer_id=Client,time=Date,amount=Total --rejects " +
          rejects + " " + csv,
      "CUSTRA_TENANT=shop CUSTRA_API_KEY=" + key);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("accepted           2"));
  EXPECT_THAT(run.out, HasSubstr("rejected           2"));
  std::ifstream in(rejects);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_THAT(content, HasSubstr("orders.csv,3,,time,INVALID_VALUE,"));
  EXPECT_THAT(content, HasSubstr("not-a-date"));
  EXPECT_THAT(content, HasSubstr("orders.csv,4,r3,customer_id,MISSING_FIELD,"));
}

// Segmentation from the CLI: a readable table with a one-line
// interpretation, machine output, stored runs, and bad parameters named.
// Revenue: c1 600, c2 200, c3 100, c4 60, c5 40 (total 1,000), so A is c1,
// c2 (cumulative 60 %, 80 %), B is c3 (90 %), C is c4, c5.
TEST_F(CliTest, SegmentAbcTableJsonRunsAndBadParameters) {
  ASSERT_EQ(RunCli("tenant create shop").exit_code, 0);
  const std::string env =
      "CUSTRA_TENANT=shop CUSTRA_API_KEY=" +
      std::string(absl::StripAsciiWhitespace(RunCli("key issue shop -q").out));
  const std::string csv = (dir_.path() / "orders.csv").string();
  std::ofstream(csv) << "id,customer_id,time,amount\n"
                        "t1,c1,2024-03-01,600.00\n"
                        "t2,c2,2024-03-02,200.00\n"
                        "t3,c3,2024-03-03,100.00\n"
                        "t4,c4,2024-03-04,60.00\n"
                        "t5,c5,2024-03-05,40.00\n";
  ASSERT_EQ(
      RunCli("import transactions -q --currency EUR " + csv, env).exit_code, 0);

  CliRun table = RunCli("segment abc --as-of 2024-03-31", env);
  ASSERT_EQ(table.exit_code, 0) << table.out;
  EXPECT_THAT(table.out, HasSubstr("40.0% of customers (class A) bring "
                                   "80.0% of revenue."));
  EXPECT_THAT(table.out, HasSubstr("5 customers"));

  CliRun json = RunCli("segment rfm --as-of 2024-03-31 -o json", env);
  ASSERT_EQ(json.exit_code, 0) << json.out;
  EXPECT_THAT(json.out, HasSubstr("\"model\": \"SEGMENTATION_MODEL_RFM\""));
  EXPECT_THAT(json.out, HasSubstr("\"customer_count\": \"5\""));

  CliRun runs = RunCli("runs list", env);
  ASSERT_EQ(runs.exit_code, 0) << runs.out;
  EXPECT_THAT(runs.out, HasSubstr("ABC"));
  EXPECT_THAT(runs.out, HasSubstr("RFM"));
  EXPECT_EQ(std::count(runs.out.begin(), runs.out.end(), '\n'), 3)
      << runs.out;  // A header and two runs.

  CliRun structure = RunCli("structure --by kind --as-of 2024-03-31", env);
  ASSERT_EQ(structure.exit_code, 0) << structure.out;
  EXPECT_THAT(structure.out, HasSubstr("INDIVIDUAL"));

  CliRun bad = RunCli(
      "segment abc --a-cutoff 0.9 --b-cutoff 0.5 --as-of 2024-03-31", env);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.out, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(bad.out, HasSubstr("parameters.abc.b_cutoff"));
  CliRun bad_date = RunCli("segment rfm --as-of 2024-02-30", env);
  EXPECT_EQ(bad_date.exit_code, 1);
  EXPECT_THAT(bad_date.out, HasSubstr("--as-of"));
}

// Customer-value models and key accounts from the CLI on CDNOW: fit, score,
// list the top accounts and explain one.
TEST_F(CliTest, ClvFitScoreTopAndExplainOnCdnow) {
  const std::string master =
      std::string(CUSTRA_SHARED_DATA_DIR) + "/cdnow/CDNOW_master.txt";
  if (!std::filesystem::exists(master)) {
    GTEST_SKIP() << "shared data not present: " << master;
  }
  ASSERT_EQ(RunCli("tenant create cdnow").exit_code, 0);
  const std::string env =
      "CUSTRA_TENANT=cdnow CUSTRA_API_KEY=" +
      std::string(absl::StripAsciiWhitespace(RunCli("key issue cdnow -q").out));
  ASSERT_EQ(
      RunCli("import transactions --format cdnow -q " + master, env).exit_code,
      0);
  // Scoring with the default profile needs the models first.
  CliRun early = RunCli("accounts score --as-of 1998-06-30", env);
  EXPECT_EQ(early.exit_code, 1);
  EXPECT_THAT(early.out, HasSubstr("FAILED_PRECONDITION"));
  CliRun fit = RunCli(
      "clv fit --model all --unit week --calibration-end 1997-09-30", env);
  ASSERT_EQ(fit.exit_code, 0) << fit.out;
  EXPECT_THAT(fit.out, HasSubstr("BG/NBD"));
  EXPECT_THAT(fit.out, HasSubstr("Gamma-Gamma"));
  EXPECT_THAT(fit.out, HasSubstr("Converged:"));
  CliRun score = RunCli("accounts score --as-of 1998-06-30", env);
  ASSERT_EQ(score.exit_code, 0) << score.out;
  EXPECT_THAT(score.out, HasSubstr("key accounts (tier A"));
  CliRun top = RunCli("accounts top -n 3 -o csv", env);
  ASSERT_EQ(top.exit_code, 0) << top.out;
  std::vector<std::string> lines = absl::StrSplit(
      absl::StripAsciiWhitespace(top.out), '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 4u) << top.out;  // Header and three accounts.
  const std::string best = lines[1].substr(0, lines[1].find(','));
  CliRun explain = RunCli("accounts explain " + best, env);
  ASSERT_EQ(explain.exit_code, 0) << explain.out;
  EXPECT_THAT(explain.out, HasSubstr("rank 1 of"));
  EXPECT_THAT(explain.out, HasSubstr("potential"));
  CliRun predict = RunCli("clv predict --limit 3 --order-by \"clv desc\"", env);
  ASSERT_EQ(predict.exit_code, 0) << predict.out;
  EXPECT_THAT(predict.out, HasSubstr("P(ALIVE)"));
}

// The CDNOW sample through the server, set up as in Fader, Hardie & Lee
// (2005): weeks, calibration to 1997-09-30. The summary the server builds
// from the imported transactions (frequency, recency, T and mean repeat
// spend, read back from `clv predict` as of the calibration end) matches the
// published cdnow_customers_summary_with_transactions.csv for every one of
// its 2,357 customers, and the BG/NBD fit gives the published estimates.
TEST_F(CliTest, ClvSummaryOfTheCdnowSampleMatchesThePublishedOne) {
  const std::string dir = std::string(CUSTRA_SHARED_DATA_DIR) + "/cdnow";
  const std::string sample = dir + "/CDNOW_sample.txt";
  const std::string published =
      dir + "/cdnow_customers_summary_with_transactions.csv";
  if (!std::filesystem::exists(sample) || !std::filesystem::exists(published)) {
    GTEST_SKIP() << "shared data not present: " << dir;
  }
  ASSERT_EQ(RunCli("tenant create sample").exit_code, 0);
  const std::string env = "CUSTRA_TENANT=sample CUSTRA_API_KEY=" +
                          std::string(absl::StripAsciiWhitespace(
                              RunCli("key issue sample -q").out));
  ASSERT_EQ(
      RunCli("import transactions --format cdnow -q " + sample, env).exit_code,
      0);
  CliRun fit = RunCli(
      "clv fit --model bgnbd --unit week --calibration-end 1997-09-30 "
      "--holdout-end 1998-06-30",
      env);
  ASSERT_EQ(fit.exit_code, 0) << fit.out;
  // Published (Fader, Hardie & Lee 2005): r 0.243, alpha 4.414, a 0.793,
  // b 2.426, log-likelihood -9582.4.
  auto value_after = [&](const std::string& label) {
    const size_t at = fit.out.find(label);
    return at == std::string::npos
               ? std::nan("")
               : std::stod(fit.out.substr(at + label.size()));
  };
  EXPECT_NEAR(value_after("r     = "), 0.243, 0.0005) << fit.out;
  EXPECT_NEAR(value_after("alpha = "), 4.414, 0.0005) << fit.out;
  EXPECT_NEAR(value_after("a     = "), 0.793, 0.0005) << fit.out;
  EXPECT_NEAR(value_after("b     = "), 2.426, 0.0005) << fit.out;
  EXPECT_NEAR(value_after("Log-likelihood:"), -9582.4, 0.05) << fit.out;

  // The sample's customers are numbered 1..2357 in its second column; the
  // import keys them by the first (the master file's id).
  std::map<std::string, std::string> master_of;
  {
    std::ifstream in(sample);
    std::string master, id, date, cds, value;
    while (in >> master >> id >> date >> cds >> value) {
      master_of[std::to_string(std::stoi(id))] =
          std::to_string(std::stoi(master));
    }
  }
  CliRun predict = RunCli("clv predict --as-of 1997-09-30 -o csv", env);
  ASSERT_EQ(predict.exit_code, 0) << predict.out;
  std::vector<std::string> lines =
      absl::StrSplit(predict.out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  const std::vector<std::string> header = absl::StrSplit(lines[0], ',');
  auto column = [&](absl::string_view name) {
    return std::find(header.begin(), header.end(), name) - header.begin();
  };
  const size_t id_at = column("customer_id"), x_at = column("frequency"),
               t_x_at = column("recency"), T_at = column("t"),
               zbar_at = column("monetary_value");
  ASSERT_LT(std::max({id_at, x_at, t_x_at, T_at, zbar_at}), header.size())
      << lines[0];
  std::map<std::string, std::vector<std::string>> served;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> fields = absl::StrSplit(lines[i], ',');
    ASSERT_EQ(fields.size(), header.size()) << lines[i];
    served[fields[id_at]] = fields;
  }
  std::ifstream in(published);
  std::string line;
  std::getline(in, line);  // ID,x,t_x,T,zbar
  int compared = 0;
  auto number = [](const std::string& text) {
    return text.empty() ? 0.0 : std::stod(text);
  };
  while (std::getline(in, line)) {
    const std::vector<std::string> want = absl::StrSplit(line, ',');
    ASSERT_EQ(want.size(), 5u) << line;
    const auto it = served.find(master_of[want[0]]);
    ASSERT_NE(it, served.end()) << "customer " << want[0] << " not served";
    const std::vector<std::string>& got = it->second;
    // The published file rounds to two decimals (half up: 22.345 is 22.35);
    // custra's CSV has the exact money and full-precision times.
    EXPECT_EQ(number(got[x_at]), std::stod(want[1])) << line;
    EXPECT_NEAR(number(got[t_x_at]), std::stod(want[2]), 0.005) << line;
    EXPECT_NEAR(number(got[T_at]), std::stod(want[3]), 0.005) << line;
    EXPECT_NEAR(number(got[zbar_at]), std::stod(want[4]), 0.005 + 1e-9) << line;
    ++compared;
  }
  EXPECT_EQ(compared, 2357);
  EXPECT_EQ(served.size(), 2357u);
}

// Opportunities from the CLI: create, advance, list, report, and an
// invalid move named clearly.
TEST_F(CliTest, OpportunityCommands) {
  ASSERT_EQ(RunCli("tenant create gov").exit_code, 0);
  const std::string env =
      "CUSTRA_TENANT=gov CUSTRA_API_KEY=" +
      std::string(absl::StripAsciiWhitespace(RunCli("key issue gov -q").out));
  const std::string csv = (dir_.path() / "orders.csv").string();
  std::ofstream(csv) << "id,customer_id,time,amount\n"
                        "t1,city-hall,2024-03-01,100.00\n";
  ASSERT_EQ(
      RunCli("import transactions -q --currency CNY " + csv, env).exit_code, 0);
  CliRun create = RunCli(
      "opp create --account city-hall --title \"Smart city\" --amount 1200000 "
      "--close 2030-12-31 --owner li.wei --id opp-1",
      env);
  ASSERT_EQ(create.exit_code, 0) << create.out;
  EXPECT_THAT(create.out, HasSubstr("scene"));
  CliRun advance = RunCli("opp advance opp-1 pain --by li.wei", env);
  ASSERT_EQ(advance.exit_code, 0) << advance.out;
  EXPECT_THAT(advance.out, HasSubstr("scene -> pain"));
  CliRun list = RunCli("opp list --status open", env);
  ASSERT_EQ(list.exit_code, 0) << list.out;
  EXPECT_THAT(list.out, HasSubstr("opp-1"));
  EXPECT_THAT(list.out, HasSubstr("pain"));
  CliRun summary = RunCli("pipeline", env);
  ASSERT_EQ(summary.exit_code, 0) << summary.out;
  EXPECT_THAT(summary.out, HasSubstr("open total"));
  EXPECT_EQ(RunCli("forecast --months 3", env).exit_code, 0);
  ASSERT_EQ(RunCli("opp win opp-1 --reason \"Best fit\"", env).exit_code, 0);
  CliRun back = RunCli("opp advance opp-1 negotiation --by li.wei", env);
  EXPECT_EQ(back.exit_code, 1);
  EXPECT_THAT(back.out, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(back.out, HasSubstr("reopen"));
  CliRun history = RunCli("opp history opp-1 -o csv", env);
  ASSERT_EQ(history.exit_code, 0) << history.out;
  // Header, creation, pain, won; the refused move is not recorded.
  EXPECT_EQ(std::count(history.out.begin(), history.out.end(), '\n'), 4)
      << history.out;
}

// A TLS server and the CLI: it connects with the CA file given to
// --tls-ca, and without it, with another CA or with a file that is not a
// certificate it fails with a message saying what to fix.
TEST(CliTlsTest, ConnectsWithTheCaFileAndExplainsWhatIsWrongOtherwise) {
  TempDir dir;
  auto certificate =
      testing::MakeSelfSignedCertificate(dir.path(), "localhost");
  ASSERT_TRUE(certificate.ok()) << certificate.status();
  auto stranger = testing::MakeSelfSignedCertificate(dir.path(), "stranger");
  ASSERT_TRUE(stranger.ok()) << stranger.status();
  ServerProcess::Options options;
  options.data_dir = dir.path() / "data";
  options.extra_args = {"--tls-cert=" + certificate->cert_file.string(),
                        "--tls-key=" + certificate->key_file.string()};
  auto server = ServerProcess::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string key_file = (dir.path() / "admin.key").string();
  std::ofstream(key_file) << (*server)->admin_key() << "\n";
  auto run = [&](const std::string& args) {
    return RunCliAt((*server)->address(), key_file, args);
  };
  const std::string ca = " --tls-ca " + certificate->cert_file.string();

  CliRun created = run("tenant create acme --name Acme" + ca);
  EXPECT_EQ(created.exit_code, 0) << created.out;
  EXPECT_THAT(created.out, HasSubstr("acme"));
  CliRun listed = run("tenant list -o csv" + ca);
  EXPECT_EQ(listed.exit_code, 0) << listed.out;
  EXPECT_THAT(listed.out, HasSubstr("\nacme,Acme,"));
  CliRun health = run("health" + ca);
  EXPECT_EQ(health.exit_code, 0) << health.out;
  EXPECT_THAT(health.out, HasSubstr("SERVING"));

  CliRun wrong_ca =
      run("tenant list --timeout 10 --tls-ca " + stranger->cert_file.string());
  EXPECT_EQ(wrong_ca.exit_code, 1) << wrong_ca.out;
  EXPECT_THAT(wrong_ca.out, HasSubstr("error: UNAVAILABLE"));
  EXPECT_THAT(wrong_ca.out, HasSubstr("hint: the TLS handshake failed"));
  EXPECT_THAT(wrong_ca.out, Not(HasSubstr("acme")));

  CliRun plaintext = run("tenant list --timeout 10");
  EXPECT_EQ(plaintext.exit_code, 1) << plaintext.out;
  EXPECT_THAT(plaintext.out, HasSubstr("error: UNAVAILABLE"));
  EXPECT_THAT(plaintext.out, Not(HasSubstr("acme")));

  CliRun missing =
      run("tenant list --tls-ca " + (dir.path() / "missing.pem").string());
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_THAT(missing.out, HasSubstr("cannot read --tls-ca"));
  CliRun not_a_certificate = run("tenant list --tls-ca " + key_file);
  EXPECT_EQ(not_a_certificate.exit_code, 1) << not_a_certificate.out;
  EXPECT_THAT(not_a_certificate.out, HasSubstr("holds no PEM certificate"));
}

}  // namespace
}  // namespace custra
