#ifndef CUSTRA_CLIENT_CLIENT_H_
#define CUSTRA_CLIENT_CLIENT_H_

// custra::Client, the C++ SDK of custra-server.
//
//   custra::ClientOptions options;
//   options.target = "localhost:50051";
//   options.tenant_id = "acme";
//   options.api_key = std::getenv("CUSTRA_API_KEY");
//   auto client = custra::Client::Create(options);
//   if (!client.ok()) ...
//
// Every call returns absl::Status / absl::StatusOr with the server's code
// and message; ErrorDetailsOf() recovers the machine-readable reason and
// field violations. List calls iterate over all pages for you.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "custra/v1/ingestion.pb.h"
#include "custra/v1/key_account.pb.h"
#include "custra/v1/opportunity.pb.h"
#include "custra/v1/segmentation.pb.h"
#include "custra/v1/tenant_admin.pb.h"

namespace custra {

struct ClientOptions {
  // host:port of the server (or of the sharding proxy). Required.
  std::string target;
  // The tenant for tenant-service calls (the x-tenant-id header).
  std::string tenant_id;
  // The bearer key: a tenant API key, or the admin key for admin calls.
  std::string api_key;
  // Use TLS. With empty `tls_root_certs_pem` the system roots are used.
  bool use_tls = false;
  std::string tls_root_certs_pem;
  // Deadline of each unary call; streaming calls get it per message batch.
  absl::Duration default_deadline = absl::Seconds(30);
  // Retry UNAVAILABLE on idempotent calls (Get*, List*) with backoff, via
  // the channel's service config.
  bool retry_idempotent_calls = true;
  // Largest message the client accepts.
  int max_message_bytes = 64 << 20;
  // Clients in one process with the same target, settings and group share
  // one HTTP/2 connection (gRPC's default), and their calls queue one
  // behind another on it. A client with a group of its own gets a
  // connection of its own: for example a bulk importer, so that its large
  // messages do not hold up an interactive client's small ones.
  std::string connection_group;
};

// The machine-readable part of an error (google.rpc.ErrorInfo and
// google.rpc.BadRequest from the status details).
struct ErrorDetails {
  // ErrorInfo.reason, e.g. "INVALID_TENANT_ID"; empty when none was sent.
  std::string reason;
  // ErrorInfo.metadata: facts about the error, e.g. for a request above the
  // server's message size limit "limit_bytes", "request_bytes", "field".
  std::map<std::string, std::string> metadata;
  struct FieldViolation {
    std::string field;
    std::string description;
  };
  std::vector<FieldViolation> field_violations;
  // RetryInfo.retry_delay: how long the server asks the caller to wait
  // before trying again (sent with RESOURCE_EXHAUSTED for the per-tenant
  // concurrency limits); absent when none was sent.
  std::optional<absl::Duration> retry_delay;
};

// Extracts the details of a status returned by Client (empty if none).
ErrorDetails ErrorDetailsOf(const absl::Status& status);

// Fills the next transaction of an import and returns true, or returns
// false at the end of the input. Called from the importing thread only.
using TransactionSource = std::function<bool(v1::Transaction*)>;

// Counts of a streaming import so far. Rows are counted once even when a
// batch had to be re-sent after a lost connection.
struct ImportProgress {
  int64_t rows_sent = 0;          // Rows read from the source and sent.
  int64_t rows_acknowledged = 0;  // Rows in batches the server made durable.
  int64_t accepted = 0;
  int64_t duplicates = 0;
  int64_t rejected = 0;
  int64_t customers_created = 0;
  int64_t batches_acknowledged = 0;
  int64_t reconnects = 0;  // Streams re-opened after UNAVAILABLE.
};

// A row the server refused, by its position in the source (0-based).
struct ImportRejection {
  int64_t row = 0;
  std::string row_id;
  std::string field;
  std::string reason;  // IngestionRejectReason name, e.g. "OUT_OF_RANGE".
  std::string description;
};

struct ImportSummary : ImportProgress {
  std::vector<ImportRejection> rejections;
};

struct ImportOptions {
  // Rows per batch (one database transaction each), 1 to 10000.
  int batch_size = 10000;
  // Batches sent ahead of their acknowledgement.
  int max_batches_in_flight = 8;
  // Consecutive stream (re)connections tried while the server is
  // UNAVAILABLE; a stream that gets a batch acknowledged resets the count.
  int max_attempts = 8;
  // Batch request ids are "<prefix>-<batch number>". Give the same prefix
  // to resume an interrupted import exactly (replayed batches are counted
  // from the server's stored results); empty means a random prefix.
  std::string request_id_prefix;
  // Called after each acknowledged batch, from an internal thread.
  std::function<void(const ImportProgress&)> on_progress;
};

// A connection to one custra server. Thread-safe: one Client may be shared
// by many threads; calls are independent.
class Client {
 public:
  // Creates the channel (no I/O happens until the first call).
  // INVALID_ARGUMENT for an empty target.
  static absl::StatusOr<std::unique_ptr<Client>> Create(ClientOptions options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ClientOptions& options() const;

  // Waits up to `timeout` for the server's gRPC health check to answer
  // SERVING. UNAVAILABLE if it does not.
  absl::Status WaitForServing(absl::Duration timeout);

  // --- TenantAdminService (needs the admin key) ---
  absl::StatusOr<v1::Tenant> CreateTenant(absl::string_view tenant_id,
                                          absl::string_view display_name = "");
  absl::StatusOr<v1::Tenant> GetTenant(absl::string_view tenant_id);
  // Which tenants ListTenants lists: the deployment's (a server started
  // with --peer lists its peers' tenants with its own), or those of the
  // server it reaches only (header x-custra-scope: local).
  enum class TenantScope { kDeployment, kThisServer };
  // All tenants, in id order (pages fetched as needed).
  absl::StatusOr<std::vector<v1::Tenant>> ListTenants(
      TenantScope scope = TenantScope::kDeployment);
  absl::Status DeleteTenant(absl::string_view tenant_id);
  absl::StatusOr<v1::IssueApiKeyResponse> IssueApiKey(
      absl::string_view tenant_id, absl::string_view display_name = "");
  absl::StatusOr<std::vector<v1::ApiKey>> ListApiKeys(
      absl::string_view tenant_id);
  absl::StatusOr<v1::ApiKey> RevokeApiKey(absl::string_view tenant_id,
                                          absl::string_view api_key_id);
  // Streams a backup of the tenant into `path` and verifies its SHA-256.
  // Returns the number of bytes written.
  absl::StatusOr<int64_t> BackupTenant(absl::string_view tenant_id,
                                       const std::string& path);
  // Uploads the backup file at `path` into the tenant.
  absl::StatusOr<v1::Tenant> RestoreTenant(absl::string_view tenant_id,
                                           const std::string& path);

  // --- IngestionService (tenant API key) ---
  absl::StatusOr<v1::CustomerBatchResult> UpsertCustomers(
      const std::vector<v1::Customer>& customers,
      absl::string_view request_id = "");
  absl::StatusOr<v1::Customer> GetCustomer(absl::string_view id);
  // Every customer matching `filter` (see ListCustomersRequest.filter), in
  // id order; pages are fetched as needed. `limit` > 0 stops early.
  absl::StatusOr<std::vector<v1::Customer>> ListCustomers(
      absl::string_view filter = "", int64_t limit = 0);
  absl::StatusOr<v1::DeleteCustomerResponse> DeleteCustomer(
      absl::string_view id);
  // One batch of transactions in one call (up to 10,000 rows).
  absl::StatusOr<v1::IngestionBatchResult> RecordTransactions(
      const std::vector<v1::Transaction>& transactions,
      absl::string_view request_id = "");
  // Streams transactions from `source` in batches over ImportTransactions,
  // each acknowledged once durable; re-sends unacknowledged batches after a
  // lost connection. Fails on the first non-retryable error.
  absl::StatusOr<ImportSummary> ImportTransactions(
      const TransactionSource& source, const ImportOptions& options = {});
  absl::StatusOr<v1::IngestionBatchResult> RecordInteractions(
      const std::vector<v1::Interaction>& interactions,
      absl::string_view request_id = "");
  // Interactions newest first, of one customer (or all with ""), matching
  // `filter` (see ListInteractionsRequest.filter), up to `limit` (0: all).
  absl::StatusOr<std::vector<v1::Interaction>> ListInteractions(
      absl::string_view customer_id, absl::string_view filter = "",
      int64_t limit = 0);

  // --- SegmentationService (tenant API key) ---
  // Runs one model over the tenant, stores the run and returns it.
  absl::StatusOr<v1::SegmentationRun> RunSegmentation(
      const v1::RunSegmentationRequest& request);
  // One stored run with its parameters and summary; NOT_FOUND if none.
  absl::StatusOr<v1::SegmentationRun> GetRun(absl::string_view run_id);
  // One page of stored runs, newest first (follow next_page_token).
  absl::StatusOr<v1::ListRunsResponse> ListRuns(
      const v1::ListRunsRequest& request);
  // One page of a run's members with the values behind their segment.
  absl::StatusOr<v1::ListSegmentMembersResponse> ListSegmentMembers(
      const v1::ListSegmentMembersRequest& request);
  // The customer's latest assignment under each model.
  absl::StatusOr<v1::GetCustomerSegmentsResponse> GetCustomerSegments(
      absl::string_view customer_id);
  // The transition matrix from the base run's segments to the target's.
  absl::StatusOr<v1::CompareRunsResponse> CompareRuns(
      absl::string_view base_run_id, absl::string_view target_run_id);
  // One page of the customers of one cell of a CompareRuns matrix.
  absl::StatusOr<v1::ListSegmentTransitionMembersResponse>
  ListSegmentTransitionMembers(
      const v1::ListSegmentTransitionMembersRequest& request);
  // Deletes a run and its assignments; NOT_FOUND if none.
  absl::Status DeleteRun(absl::string_view run_id);
  // Computes (does not store) the composition of the customer base.
  absl::StatusOr<v1::StructureReport> GetStructureReport(
      const v1::GetStructureReportRequest& request);

  // --- KeyAccountService (tenant API key) ---
  // Fits a value model, stores it and returns it with its diagnostics (a fit
  // that did not converge is returned too, with converged = false).
  absl::StatusOr<v1::ValueModel> FitValueModel(
      const v1::FitValueModelRequest& request);
  // One stored value model; NOT_FOUND if none.
  absl::StatusOr<v1::ValueModel> GetValueModel(absl::string_view id);
  // One page of stored value models, newest fit first.
  absl::StatusOr<v1::ListValueModelsResponse> ListValueModels(
      const v1::ListValueModelsRequest& request);
  // Per-customer P(alive), expected purchases, spend and CLV (one page).
  absl::StatusOr<v1::PredictCustomerValueResponse> PredictCustomerValue(
      const v1::PredictCustomerValueRequest& request);
  // Expected vs actual cumulative repeat purchases (the tracking plot).
  absl::StatusOr<v1::PredictCumulativePurchasesResponse>
  PredictCumulativePurchases(
      const v1::PredictCumulativePurchasesRequest& request);
  // Predicted vs actual holdout purchases of a purchase-count model.
  absl::StatusOr<v1::EvaluateValueModelResponse> EvaluateValueModel(
      const v1::EvaluateValueModelRequest& request);
  // One scoring profile ("default" always exists); NOT_FOUND if none.
  absl::StatusOr<v1::ScoringProfile> GetScoringProfile(absl::string_view id);
  // One page of scoring profiles, "default" first, then by id.
  absl::StatusOr<v1::ListScoringProfilesResponse> ListScoringProfiles(
      const v1::ListScoringProfilesRequest& request);
  // Creates a scoring profile; ALREADY_EXISTS if the id is taken.
  absl::StatusOr<v1::ScoringProfile> CreateScoringProfile(
      const v1::CreateScoringProfileRequest& request);
  // Changes the profile fields named in the update mask; returns the result.
  absl::StatusOr<v1::ScoringProfile> UpdateScoringProfile(
      const v1::UpdateScoringProfileRequest& request);
  // Deletes a scoring profile (not "default"); NOT_FOUND if none.
  absl::Status DeleteScoringProfile(absl::string_view id);
  // Records manual criteria of a batch of accounts, all or none.
  absl::StatusOr<v1::SetAccountAssessmentsResponse> SetAccountAssessments(
      const v1::SetAccountAssessmentsRequest& request);
  // One page of recorded assessments, by customer id.
  absl::StatusOr<v1::ListAccountAssessmentsResponse> ListAccountAssessments(
      const v1::ListAccountAssessmentsRequest& request);
  // Scores, tiers and ranks every account; stores and returns the run.
  absl::StatusOr<v1::AccountScoringRun> ScoreAccounts(
      const v1::ScoreAccountsRequest& request);
  // One stored scoring run's summary; NOT_FOUND if none.
  absl::StatusOr<v1::AccountScoringRun> GetAccountScoringRun(
      absl::string_view id);
  // One page of stored scoring runs, newest first.
  absl::StatusOr<v1::ListAccountScoringRunsResponse> ListAccountScoringRuns(
      const v1::ListAccountScoringRunsRequest& request);
  // One account's score with its explanation, in a run ("": the newest).
  absl::StatusOr<v1::AccountScore> GetAccountScore(
      absl::string_view customer_id, absl::string_view scoring_run_id = "");
  // One page of a run's accounts by rank, best first.
  absl::StatusOr<v1::ListTopAccountsResponse> ListTopAccounts(
      const v1::ListTopAccountsRequest& request);
  // One page of an account's scores across runs, newest as-of date first.
  absl::StatusOr<v1::ListAccountScoreHistoryResponse> ListAccountScoreHistory(
      const v1::ListAccountScoreHistoryRequest& request);
  // Tier migration matrix of two runs and one page of the moved accounts.
  absl::StatusOr<v1::CompareScoringsResponse> CompareScorings(
      const v1::CompareScoringsRequest& request);

  // --- OpportunityService (tenant API key) ---
  // The tenant's pipeline (the default one if it never changed it).
  absl::StatusOr<v1::Pipeline> GetPipeline();
  // Replaces the pipeline's stages and/or staleness default, all or none.
  absl::StatusOr<v1::UpdatePipelineResponse> UpdatePipeline(
      const v1::UpdatePipelineRequest& request);
  // Creates an opportunity on an existing account; returns it as stored.
  absl::StatusOr<v1::Opportunity> CreateOpportunity(
      const v1::CreateOpportunityRequest& request);
  // One opportunity with its contacts; NOT_FOUND if none.
  absl::StatusOr<v1::Opportunity> GetOpportunity(absl::string_view id);
  // One page of opportunities, oldest created first.
  absl::StatusOr<v1::ListOpportunitiesResponse> ListOpportunities(
      const v1::ListOpportunitiesRequest& request);
  // Changes the fields named in the update mask (not the stage).
  absl::StatusOr<v1::Opportunity> UpdateOpportunity(
      const v1::UpdateOpportunityRequest& request);
  // Deletes an opportunity with its history and links; NOT_FOUND if none.
  absl::Status DeleteOpportunity(absl::string_view id);
  // Moves an opportunity to another stage; returns it and the history entry.
  absl::StatusOr<v1::ChangeOpportunityStageResponse> ChangeOpportunityStage(
      const v1::ChangeOpportunityStageRequest& request);
  // One page of an opportunity's stage history, oldest first.
  absl::StatusOr<v1::ListStageChangesResponse> ListStageChanges(
      const v1::ListStageChangesRequest& request);
  // Creates a contact on an existing account; returns it as stored.
  absl::StatusOr<v1::AccountContact> CreateContact(
      const v1::CreateContactRequest& request);
  // One contact; NOT_FOUND if none.
  absl::StatusOr<v1::AccountContact> GetContact(absl::string_view id);
  // One page of contacts, by account and then name.
  absl::StatusOr<v1::ListContactsResponse> ListContacts(
      const v1::ListContactsRequest& request);
  // Changes the contact fields named in the update mask.
  absl::StatusOr<v1::AccountContact> UpdateContact(
      const v1::UpdateContactRequest& request);
  // Deletes a contact with its deal links and mentions; NOT_FOUND if none.
  absl::Status DeleteContact(absl::string_view id);
  // Links (or re-links) a contact to a deal with a role; returns the deal.
  absl::StatusOr<v1::Opportunity> LinkOpportunityContact(
      const v1::LinkOpportunityContactRequest& request);
  // Removes a contact from a deal (OK if not linked); returns the deal.
  absl::StatusOr<v1::Opportunity> UnlinkOpportunityContact(
      absl::string_view opportunity_id, absl::string_view contact_id);
  // An account's trust level (unspecified if never assessed).
  absl::StatusOr<v1::AccountTrust> GetAccountTrust(
      absl::string_view customer_id);
  // Sets or clears an account's trust level; returns it as stored.
  absl::StatusOr<v1::AccountTrust> SetAccountTrust(
      const v1::SetAccountTrustRequest& request);
  // Records a sales activity (idempotent by request_id); returns it.
  absl::StatusOr<v1::SalesActivity> LogActivity(
      const v1::LogActivityRequest& request);
  // One page of activities, newest first.
  absl::StatusOr<v1::ListActivitiesResponse> ListActivities(
      const v1::ListActivitiesRequest& request);
  // Stage totals, win rates, conversion and cycle times, optionally by owner.
  absl::StatusOr<v1::GetPipelineSummaryResponse> GetPipelineSummary(
      const v1::GetPipelineSummaryRequest& request);
  // Best-case and weighted open business by expected close month.
  absl::StatusOr<v1::GetForecastResponse> GetForecast(
      const v1::GetForecastRequest& request);
  // One page of open deals without recent activity, most neglected first.
  absl::StatusOr<v1::ListStaleOpportunitiesResponse> ListStaleOpportunities(
      const v1::ListStaleOpportunitiesRequest& request);
  // Decision-maker coverage counts and one page of uncovered opportunities.
  absl::StatusOr<v1::GetDecisionMakerCoverageResponse> GetDecisionMakerCoverage(
      const v1::GetDecisionMakerCoverageRequest& request);
  // Each open stage's observed win rate next to its configured probability.
  absl::StatusOr<v1::GetCalibratedProbabilitiesResponse>
  GetCalibratedProbabilities(
      const v1::GetCalibratedProbabilitiesRequest& request);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace custra

#endif  // CUSTRA_CLIENT_CLIENT_H_
