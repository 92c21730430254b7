// OTLP export responses and google.rpc.Status: round trips in both encodings, the exact proto3
// JSON text, what other servers send (unknown fields, unknown Status detail types, empty bodies),
// RetryInfo in a Status and in grpc-status-details-bin, garbage.

#include <doctest/doctest.h>
#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <string>

#include "agent/otlp/response.hpp"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace vigil::otlp {
namespace {

using namespace std::chrono_literals;
using model::Signal;

constexpr Signal kSignals[] = {Signal::kTraces, Signal::kMetrics, Signal::kLogs};
constexpr Encoding kEncodings[] = {Encoding::kProtobuf, Encoding::kJson};

TEST_CASE("response: an empty partial success is an empty message") {
  for (Signal s : kSignals) {
    CHECK(encode_export_response(s, {}, Encoding::kProtobuf).empty());
    CHECK(encode_export_response(s, {}, Encoding::kJson) == "{}");
  }
}

TEST_CASE("response: partial success round trips in both encodings") {
  for (Signal s : kSignals) {
    for (Encoding e : kEncodings) {
      for (const PartialSuccess& in :
           {PartialSuccess{5, "5 spans had no trace id"}, PartialSuccess{0, "only a warning"},
            PartialSuccess{9223372036854775807LL, ""}, PartialSuccess{}}) {
        const std::string body = encode_export_response(s, in, e);
        PartialSuccess out{1, "stale"};
        std::string error;
        REQUIRE_MESSAGE(decode_export_response(s, body, e, out, error), error);
        CHECK(out.rejected == in.rejected);
        CHECK(out.error_message == in.error_message);
      }
    }
  }
}

TEST_CASE("response: the wire forms are the standard ones") {
  const PartialSuccess partial{3, "bad \"items\""};
  // JSON: proto3 mapping, lowerCamelCase, int64 as a string.
  CHECK(encode_export_response(Signal::kTraces, partial, Encoding::kJson) ==
        R"({"partialSuccess":{"rejectedSpans":"3","errorMessage":"bad \"items\""}})");
  CHECK(encode_export_response(Signal::kMetrics, partial, Encoding::kJson) ==
        R"({"partialSuccess":{"rejectedDataPoints":"3","errorMessage":"bad \"items\""}})");
  CHECK(encode_export_response(Signal::kLogs, partial, Encoding::kJson) ==
        R"({"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"bad \"items\""}})");
  // Protobuf: what the generated classes of the collector protos read.
  opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse logs;
  REQUIRE(logs.ParseFromString(encode_export_response(Signal::kLogs, partial, Encoding::kProtobuf)));
  CHECK(logs.partial_success().rejected_log_records() == 3);
  CHECK(logs.partial_success().error_message() == "bad \"items\"");
  opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse metrics;
  REQUIRE(metrics.ParseFromString(encode_export_response(Signal::kMetrics, partial, Encoding::kProtobuf)));
  CHECK(metrics.partial_success().rejected_data_points() == 3);
}

TEST_CASE("response: what other servers send decodes") {
  PartialSuccess out;
  std::string error;
  for (Signal s : kSignals) {
    for (Encoding e : kEncodings) {
      out = {7, "x"};
      CHECK(decode_export_response(s, "", e, out, error));  // empty body: full success
      CHECK(out.empty());
    }
    CHECK(decode_export_response(s, " \r\n", Encoding::kJson, out, error));
    CHECK(decode_export_response(s, "{}", Encoding::kJson, out, error));
    CHECK(out.empty());
  }
  // Numbers as JSON numbers, unknown fields at every level, snake_case names.
  REQUIRE(decode_export_response(
      Signal::kTraces,
      R"({"partialSuccess":{"rejectedSpans":12,"errorMessage":"m","future":[1,{"a":null}]},"extra":{"b":true}})",
      Encoding::kJson, out, error));
  CHECK(out.rejected == 12);
  CHECK(out.error_message == "m");
  REQUIRE(decode_export_response(Signal::kLogs, R"({"partial_success":{"rejected_log_records":"4"}})",
                                 Encoding::kJson, out, error));
  CHECK(out.rejected == 4);
  CHECK(out.error_message.empty());
  // Protobuf with an unknown field (number 15, varint) before the known one.
  std::string bytes =
      std::string("\x78\x01", 2) + encode_export_response(Signal::kMetrics, {2, "two"}, Encoding::kProtobuf);
  REQUIRE(decode_export_response(Signal::kMetrics, bytes, Encoding::kProtobuf, out, error));
  CHECK(out.rejected == 2);
  CHECK(out.error_message == "two");
}

TEST_CASE("response: garbage is refused with a reason") {
  PartialSuccess out;
  for (Signal s : kSignals) {
    for (std::string_view body :
         {"<html>502 Bad Gateway</html>", "{\"partialSuccess\":", "[1,2]", R"({"partialSuccess":"all good"})",
          R"({"partialSuccess":{"errorMessage":5}})"}) {
      std::string error;
      CHECK_FALSE(decode_export_response(s, body, Encoding::kJson, out, error));
      CHECK(error.find("JSON") != std::string::npos);
    }
    std::string error;
    CHECK_FALSE(decode_export_response(Signal::kTraces, R"({"partialSuccess":{"rejectedSpans":"many"}})",
                                       Encoding::kJson, out, error));
    CHECK_FALSE(decode_export_response(s, std::string("\x0a\x05\x08", 3), Encoding::kProtobuf, out,
                                       error));  // truncated
    CHECK(error.find("malformed or truncated protobuf") != std::string::npos);
    CHECK_FALSE(decode_export_response(s, "\xff\xff\xff", Encoding::kProtobuf, out, error));
  }
}

TEST_CASE("rpc status: round trips with and without RetryInfo, in both encodings") {
  for (Encoding e : kEncodings) {
    for (const RpcStatus& in :
         {RpcStatus{14, "pipeline is full", 1500ms}, RpcStatus{3, "bad request", std::nullopt},
          RpcStatus{8, "", 0ms}, RpcStatus{16, "unauthenticated \xc3\xa9", 86400000ms}, RpcStatus{}}) {
      const std::string body = encode_rpc_status(in, e);
      RpcStatus out{99, "stale", 1ms};
      std::string error;
      REQUIRE_MESSAGE(decode_rpc_status(body, e, out, error), error);
      CHECK(out.code == in.code);
      CHECK(out.message == in.message);
      CHECK(out.retry_delay == in.retry_delay);
    }
  }
}

TEST_CASE("rpc status: the wire forms are the standard ones") {
  const RpcStatus status{14, "try later", 2500ms};
  CHECK(
      encode_rpc_status(status, Encoding::kJson) ==
      R"({"code":14,"message":"try later","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2.500s"}]})");
  google::rpc::Status parsed;
  REQUIRE(parsed.ParseFromString(encode_rpc_status(status, Encoding::kProtobuf)));
  CHECK(parsed.code() == 14);
  CHECK(parsed.message() == "try later");
  REQUIRE(parsed.details_size() == 1);
  google::rpc::RetryInfo info;
  REQUIRE(parsed.details(0).UnpackTo(&info));
  CHECK(info.retry_delay().seconds() == 2);
  CHECK(info.retry_delay().nanos() == 500000000);
  // libprotobuf's JSON parser reads the JSON form to the same message.
  google::rpc::Status from_json;
  REQUIRE(google::protobuf::util::JsonStringToMessage(encode_rpc_status(status, Encoding::kJson), &from_json)
              .ok());
  CHECK(from_json.SerializeAsString() == parsed.SerializeAsString());
  // No RetryInfo, no details; a negative delay is sent as zero.
  CHECK(encode_rpc_status({3, "bad", std::nullopt}, Encoding::kJson) == R"({"code":3,"message":"bad"})");
  RpcStatus out;
  std::string error;
  REQUIRE(decode_rpc_status(encode_rpc_status({14, "", -5s}, Encoding::kProtobuf), Encoding::kProtobuf, out,
                            error));
  CHECK(out.retry_delay == 0ms);
}

TEST_CASE("rpc status: what other servers send decodes") {
  RpcStatus out;
  std::string error;
  // Detail types this build does not know (ErrorInfo, BadRequest) next to a RetryInfo; unknown
  // fields; the code as a string; the type URL with another host.
  REQUIRE_MESSAGE(decode_rpc_status(R"({"code":"8","message":"quota","details":[
      {"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMITED","metadata":{"a":"b"}},
      {"@type":"example.com/google.rpc.RetryInfo","retryDelay":"30s"},
      {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1s"}],"unknown":[{}]})",
                                    Encoding::kJson, out, error),
                  error);
  CHECK(out.code == 8);
  CHECK(out.message == "quota");
  CHECK(out.retry_delay == 30s);  // the first RetryInfo

  REQUIRE(decode_rpc_status(
      R"({"code":14,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.000001s"}]})",
      Encoding::kJson, out, error));
  CHECK(out.retry_delay == 0ms);
  REQUIRE(decode_rpc_status(R"({"code":13,"message":null,"details":[]})", Encoding::kJson, out, error));
  CHECK(out.code == 13);
  CHECK_FALSE(out.retry_delay.has_value());
  REQUIRE(decode_rpc_status("", Encoding::kJson, out, error));  // the empty Status
  CHECK(out.code == 0);

  // Protobuf: a detail of an unknown type is kept opaque and skipped.
  google::rpc::Status status;
  status.set_code(14);
  auto* other = status.add_details();
  other->set_type_url("type.googleapis.com/google.rpc.ErrorInfo");
  other->set_value("\x0a\x01x");
  google::rpc::RetryInfo info;
  info.mutable_retry_delay()->set_seconds(4);
  status.add_details()->PackFrom(info);
  REQUIRE(decode_rpc_status(status.SerializeAsString(), Encoding::kProtobuf, out, error));
  CHECK(out.code == 14);
  CHECK(out.retry_delay == 4s);
  // A hostile delay is clamped, not overflowed.
  info.mutable_retry_delay()->set_seconds(INT64_MAX);
  status.mutable_details(1)->PackFrom(info);
  REQUIRE(decode_rpc_status(status.SerializeAsString(), Encoding::kProtobuf, out, error));
  CHECK(out.retry_delay == std::chrono::milliseconds(315576000000LL * 1000));
}

TEST_CASE("rpc status: garbage is refused with a reason") {
  RpcStatus out;
  for (std::string_view body :
       {"not json", R"({"code":"eight"})", R"({"code":1.5})", R"({"message":3})", R"({"details":{}})",
        R"({"code":4294967296})", "[]",
        R"({"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"soon"}]})"}) {
    std::string error;
    CHECK_FALSE(decode_rpc_status(body, Encoding::kJson, out, error));
    CHECK_MESSAGE(error.rfind("invalid google.rpc.Status JSON", 0) == 0, error);
  }
  std::string error;
  CHECK_FALSE(decode_rpc_status("\x0a\xff", Encoding::kProtobuf, out, error));
  CHECK(error.find("google.rpc.Status") != std::string::npos);
}

TEST_CASE("rpc status: grpc-status-details-bin round trip") {
  const std::string bin = encode_status_details_bin({14, "pipeline is full", 1234ms});
  CHECK(retry_delay_from_status_details_bin(bin) == 1234ms);
  // It is a serialized google.rpc.Status, as gRPC carries it.
  google::rpc::Status status;
  REQUIRE(status.ParseFromString(bin));
  CHECK(status.code() == 14);
  CHECK(status.message() == "pipeline is full");
  CHECK(bin == encode_rpc_status({14, "pipeline is full", 1234ms}, Encoding::kProtobuf));

  CHECK_FALSE(
      retry_delay_from_status_details_bin(encode_status_details_bin({8, "no retry info", std::nullopt})));
  CHECK_FALSE(retry_delay_from_status_details_bin(""));
  CHECK_FALSE(retry_delay_from_status_details_bin("\xff\xff\xff\xff"));
  CHECK_FALSE(retry_delay_from_status_details_bin("garbage that is not a status"));
}

}  // namespace
}  // namespace vigil::otlp
