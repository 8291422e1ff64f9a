"""Enterprise integration test: a Python client built from protos/ only.

Proves that stubs generated from custra's public protos (with plain protoc or
grpcio-tools) are enough to provision a tenant and use IngestionService:
CreateTenant/IssueApiKey with the admin key, UpsertCustomers, a bidirectional
ImportTransactions stream (acks, duplicates, rejected rows, implicit
customers), ListCustomers paging and filtering with purchase aggregates, and
the error contract (status codes plus google.rpc.ErrorInfo/BadRequest in the
grpc-status-details-bin trailer).

Run by python_client_test.sh, which generates the stubs and starts the server.
Uses only the generated stubs, grpc and protobuf; exits non-zero on failure.
"""

import argparse
import importlib
import sys
import uuid

import grpc
from google.protobuf import timestamp_pb2

_TENANT = "pyco"
_RPC_TIMEOUT_S = 10
_STREAM_TIMEOUT_S = 30
_CURRENCY = "USD"


class TestFailure(Exception):
    """A check of this test failed."""


def _check(condition, message, *args):
    if not condition:
        raise TestFailure(message % args if args else message)


def _check_eq(actual, expected, what):
    _check(actual == expected, "%s: got %r, want %r", what, actual, expected)


class _Stubs:
    """The generated modules, imported from the directory given on the
    command line."""

    def __init__(self, gen_dir):
        sys.path.insert(0, gen_dir)
        self.common = importlib.import_module("custra.v1.common_pb2")
        self.ingestion = importlib.import_module("custra.v1.ingestion_pb2")
        self.ingestion_grpc = importlib.import_module(
            "custra.v1.ingestion_pb2_grpc")
        self.admin = importlib.import_module("custra.v1.tenant_admin_pb2")
        self.admin_grpc = importlib.import_module(
            "custra.v1.tenant_admin_pb2_grpc")
        self.status = importlib.import_module("google.rpc.status_pb2")
        self.error_details = importlib.import_module(
            "google.rpc.error_details_pb2")


def _metadata(key, tenant):
    return (("authorization", "Bearer " + key), ("x-tenant-id", tenant))


def _timestamp(rfc3339):
    ts = timestamp_pb2.Timestamp()
    ts.FromJsonString(rfc3339)
    return ts


# Transactions sent in the import stream, one list per batch: (id,
# customer_id, time, amount_micros, order_id). Row "t6" lacks its customer id
# and must be rejected; "carol" is unknown and must be created implicitly;
# "t1" in batch 2 is a re-sent id and must be a duplicate.
_BATCHES = (
    (
        ("t1", "acme", "2024-03-01T10:00:00Z", 1_000_000_000, "o1"),
        ("t2", "acme", "2024-03-01T10:05:00Z", 250_500_000, "o1"),
        ("t3", "bob", "2024-03-02T09:00:00Z", 40_000_000, ""),
    ),
    (
        ("t4", "acme", "2024-03-05T15:30:00Z", 500_000_000, "o2"),
        ("t5", "acme", "2024-03-06T08:00:00Z", -120_250_000, ""),  # Return.
        ("t6", "", "2024-03-06T09:00:00Z", 10_000_000, ""),  # Invalid.
    ),
    (
        ("t7", "carol", "2024-03-07T12:00:00Z", 75_000_000, ""),
        ("t1", "acme", "2024-03-01T10:00:00Z", 1_000_000_000, "o1"),  # Dup.
    ),
)


def _expected_stats(customer_id):
    """Computes a customer's aggregates from _BATCHES, as the API defines
    them: first write of an id wins, rows without customer id are rejected."""
    seen = set()
    rows = []
    for batch in _BATCHES:
        for txn_id, cust, time, micros, order_id in batch:
            if not cust or txn_id in seen:
                continue
            seen.add(txn_id)
            if cust == customer_id:
                rows.append((txn_id, time, micros, order_id))
    purchases = [r for r in rows if r[2] > 0]
    return {
        "transaction_count": len(rows),
        "order_count": len({r[3] or "txn:" + r[0] for r in purchases}),
        "purchase_day_count": len({r[1][:10] for r in purchases}),
        "revenue": sum(r[2] for r in rows),
        "returns": sum(r[2] for r in rows if r[2] < 0),
        "first_purchase_time": min(r[1] for r in purchases),
        "last_purchase_time": max(r[1] for r in purchases),
    }


def provision_tenant(pb, channel, admin_key):
    """Creates the tenant and returns a fresh API key for it."""
    admin = pb.admin_grpc.TenantAdminServiceStub(channel)
    md = _metadata(admin_key, _TENANT)
    created = admin.CreateTenant(
        pb.admin.CreateTenantRequest(tenant_id=_TENANT,
                                     display_name="Python Co"),
        metadata=md, timeout=_RPC_TIMEOUT_S)
    _check_eq(created.tenant.id, _TENANT, "CreateTenant tenant.id")
    issued = admin.IssueApiKey(
        pb.admin.IssueApiKeyRequest(tenant_id=_TENANT,
                                    display_name="python integration"),
        metadata=md, timeout=_RPC_TIMEOUT_S)
    _check(issued.secret and issued.api_key.id.startswith("k_"),
           "IssueApiKey: want a secret and a key id k_..., got id %r",
           issued.api_key.id)
    _check_eq(issued.api_key.tenant_id, _TENANT, "IssueApiKey tenant_id")
    return issued.secret


def upsert_customers(pb, ingestion, md):
    common = pb.common
    acme = pb.ingestion.Customer(
        id="acme",
        kind=common.CUSTOMER_KIND_ENTERPRISE,
        display_name="Acme Corp",
        industry="manufacturing",
        region="east",
        size=pb.ingestion.CUSTOMER_SIZE_LARGE,
        tags=["vip", "strategic"],
        man_assessment=common.ManAssessment(money=common.MAN_LEVEL_HIGH,
                                            authority=common.MAN_LEVEL_HIGH,
                                            need=common.MAN_LEVEL_LOW),
    )
    bob = pb.ingestion.Customer(id="bob",
                                kind=common.CUSTOMER_KIND_INDIVIDUAL,
                                display_name="Bob")
    resp = ingestion.UpsertCustomers(
        pb.ingestion.UpsertCustomersRequest(customers=[acme, bob],
                                            request_id=str(uuid.uuid4())),
        metadata=md, timeout=_RPC_TIMEOUT_S)
    result = resp.result
    _check_eq(result.created_count, 2, "UpsertCustomers created_count")
    _check_eq(result.rejected_count, 0, "UpsertCustomers rejected_count")
    _check_eq([(r.customer_id, r.outcome) for r in result.results],
              [("acme", pb.ingestion.CUSTOMER_WRITE_OUTCOME_CREATED),
               ("bob", pb.ingestion.CUSTOMER_WRITE_OUTCOME_CREATED)],
              "UpsertCustomers results")


def import_transactions(pb, ingestion, md):
    requests = []
    for seq, batch in enumerate(_BATCHES):
        txns = [
            pb.ingestion.Transaction(
                id=txn_id, customer_id=cust, time=_timestamp(time),
                amount=pb.common.Money(currency_code=_CURRENCY,
                                       amount_micros=micros),
                order_id=order_id)
            for txn_id, cust, time, micros, order_id in batch
        ]
        requests.append(pb.ingestion.ImportTransactionsRequest(
            sequence_number=seq, request_id=str(uuid.uuid4()),
            transactions=txns))

    # grpc sends the batches from the iterator while the acks are read.
    acks = list(ingestion.ImportTransactions(iter(requests), metadata=md,
                                             timeout=_STREAM_TIMEOUT_S))
    _check_eq(len(acks), len(requests), "ImportTransactions ack count")
    # (accepted, duplicate, rejected, customers_created) per batch.
    want_counts = [(3, 0, 0, 0), (2, 0, 1, 0), (1, 1, 0, 1)]
    for req, ack, want in zip(requests, acks, want_counts):
        what = "ack of batch %d" % req.sequence_number
        _check_eq(ack.sequence_number, req.sequence_number,
                  what + " sequence_number")
        _check_eq(ack.request_id, req.request_id, what + " request_id")
        r = ack.result
        _check_eq((r.accepted_count, r.duplicate_count, r.rejected_count,
                   r.customers_created_count), want,
                  what + " (accepted, duplicate, rejected, created)")
        _check(not r.replayed, "%s: unexpectedly replayed", what)
        _check_eq(len(r.rejections), r.rejected_count, what + " rejections")

    rejection = acks[1].result.rejections[0]
    _check_eq(rejection.row_index, 2, "rejection row_index")
    _check_eq(rejection.row_id, "t6", "rejection row_id")
    _check_eq(rejection.field, "customer_id", "rejection field")
    _check_eq(rejection.reason,
              pb.ingestion.INGESTION_REJECT_REASON_MISSING_FIELD,
              "rejection reason")


def check_list_customers(pb, ingestion, md):
    # Page through everything, one customer per page.
    ids = []
    page_token = ""
    for _ in range(10):
        resp = ingestion.ListCustomers(
            pb.ingestion.ListCustomersRequest(page_size=1,
                                              page_token=page_token),
            metadata=md, timeout=_RPC_TIMEOUT_S)
        _check(len(resp.customers) <= 1, "page_size 1 returned %d customers",
               len(resp.customers))
        ids.extend(c.id for c in resp.customers)
        page_token = resp.next_page_token
        if not page_token:
            break
    _check(not page_token, "ListCustomers paging did not end in 10 pages")
    _check_eq(ids, ["acme", "bob", "carol"], "ListCustomers ids (paged)")

    resp = ingestion.ListCustomers(
        pb.ingestion.ListCustomersRequest(filter="kind=ENTERPRISE"),
        metadata=md, timeout=_RPC_TIMEOUT_S)
    _check_eq([c.id for c in resp.customers], ["acme"],
              "ListCustomers kind=ENTERPRISE")
    _check_eq(resp.next_page_token, "", "filtered next_page_token")
    acme = resp.customers[0]
    _check_eq((acme.industry, acme.region, list(acme.tags)),
              ("manufacturing", "east", ["strategic", "vip"]),
              "acme industry, region, tags")
    _check_eq((acme.man_assessment.money, acme.man_assessment.authority,
               acme.man_assessment.need),
              (pb.common.MAN_LEVEL_HIGH, pb.common.MAN_LEVEL_HIGH,
               pb.common.MAN_LEVEL_LOW), "acme man_assessment")

    want = _expected_stats("acme")
    stats = acme.purchase_stats
    got = {
        "transaction_count": stats.transaction_count,
        "order_count": stats.order_count,
        "purchase_day_count": stats.purchase_day_count,
        "revenue": stats.revenue.amount_micros,
        "returns": stats.returns.amount_micros,
        "first_purchase_time": stats.first_purchase_time.ToJsonString(),
        "last_purchase_time": stats.last_purchase_time.ToJsonString(),
    }
    _check_eq(got, want, "acme purchase_stats")
    _check_eq((stats.revenue.currency_code, stats.returns.currency_code),
              (_CURRENCY, _CURRENCY), "purchase_stats currency codes")


def _call_error(call):
    """Runs `call`, which must fail, and returns its grpc.RpcError."""
    try:
        call()
    except grpc.RpcError as e:
        return e
    raise TestFailure("call succeeded but should have failed")


def _status_details(pb, error):
    """Decodes the grpc-status-details-bin trailer as google.rpc.Status."""
    raw = [v for k, v in error.trailing_metadata() or ()
           if k == "grpc-status-details-bin"]
    _check(len(raw) == 1, "want one grpc-status-details-bin trailer, got %d",
           len(raw))
    status = pb.status.Status()
    status.ParseFromString(raw[0])
    return status


def check_errors(pb, ingestion, tenant_key):
    request = pb.ingestion.GetCustomerRequest(id="acme")

    # The key of tenant pyco used for another (valid) tenant id.
    err = _call_error(lambda: ingestion.GetCustomer(
        request, metadata=_metadata(tenant_key, "other"),
        timeout=_RPC_TIMEOUT_S))
    _check_eq(err.code(), grpc.StatusCode.PERMISSION_DENIED,
              "key of pyco with x-tenant-id other")

    # A malformed tenant id.
    err = _call_error(lambda: ingestion.GetCustomer(
        request, metadata=_metadata(tenant_key, "../x"),
        timeout=_RPC_TIMEOUT_S))
    _check_eq(err.code(), grpc.StatusCode.INVALID_ARGUMENT,
              "x-tenant-id ../x")
    status = _status_details(pb, err)
    _check_eq(status.code, grpc.StatusCode.INVALID_ARGUMENT.value[0],
              "google.rpc.Status code")
    infos, bad_requests = [], []
    for detail in status.details:
        if detail.Is(pb.error_details.ErrorInfo.DESCRIPTOR):
            infos.append(pb.error_details.ErrorInfo())
            detail.Unpack(infos[-1])
        elif detail.Is(pb.error_details.BadRequest.DESCRIPTOR):
            bad_requests.append(pb.error_details.BadRequest())
            detail.Unpack(bad_requests[-1])
    _check_eq([(i.reason, i.domain) for i in infos],
              [("INVALID_TENANT_ID", "custra.dev")], "ErrorInfo")
    _check_eq(len(bad_requests), 1, "number of BadRequest details")
    fields = [v.field for v in bad_requests[0].field_violations]
    _check("x-tenant-id" in fields, "BadRequest field violations %r lack "
           "x-tenant-id", fields)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="host:port")
    parser.add_argument("--admin_key_file", required=True)
    parser.add_argument("--gen_dir", required=True,
                        help="directory holding the generated stubs")
    args = parser.parse_args(argv[1:])

    pb = _Stubs(args.gen_dir)
    with open(args.admin_key_file, encoding="utf-8") as f:
        admin_key = f.read().strip()

    # Loopback only: never route through an HTTP proxy from the environment.
    with grpc.insecure_channel(args.target,
                               options=[("grpc.enable_http_proxy", 0)]) as ch:
        grpc.channel_ready_future(ch).result(timeout=_RPC_TIMEOUT_S)
        tenant_key = provision_tenant(pb, ch, admin_key)
        ingestion = pb.ingestion_grpc.IngestionServiceStub(ch)
        md = _metadata(tenant_key, _TENANT)
        upsert_customers(pb, ingestion, md)
        import_transactions(pb, ingestion, md)
        check_list_customers(pb, ingestion, md)
        check_errors(pb, ingestion, tenant_key)
    print("PASS: python_client_test (generated stubs: admin, upsert, "
          "import stream, list/filter/stats, error details)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except TestFailure as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
    except grpc.FutureTimeoutError:
        print("FAIL: could not connect to the server", file=sys.stderr)
        sys.exit(1)
    except grpc.RpcError as e:
        print("FAIL: unexpected RPC error %s: %s" % (e.code(), e.details()),
              file=sys.stderr)
        sys.exit(1)
