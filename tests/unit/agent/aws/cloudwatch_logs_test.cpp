// The CloudWatch Logs client: the pure request plan (limits, sorting, splitting, truncation),
// the JSON body, placeholders, name and tag checks, and the client against a scripted local
// HTTP server (retries, creation on ResourceNotFoundException, rejectedLogEventsInfo, abort).

#include "agent/aws/cloudwatch_logs.hpp"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/counter.h>

#include "agent/aws/cloudwatch_logs_parse.hpp"
#include "agent/model/batch.hpp"
#include "agent/runtime/http_client.hpp"
#include "agent/telemetry/telemetry.hpp"
#include "tests/support/fake_http_server.hpp"

namespace vigil::aws {
namespace {

using testing::fake_http::FakeHttpServer;
using testing::fake_http::Request;
using testing::fake_http::Response;

namespace fakes {

class StaticCredentials : public CredentialsProvider {
 public:
  component::Status get(Credentials& out) override {
    out.access_key_id = "AKIDTEST";
    out.secret_access_key = "test-secret";
    out.provider = "static";
    return component::Status::ok();
  }
};

}  // namespace fakes

constexpr std::int64_t kHour = 3600 * 1000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::size_t bytes_of(const std::vector<LogEvent>& r) {
  std::size_t n = 0;
  for (const auto& e : r) n += event_size(e);
  return n;
}

// ---- plan ------------------------------------------------------------------------------------

TEST_CASE("plan_requests drops too old, too new and empty events, counted") {
  const std::int64_t now = 1'700'000'000'000;
  std::vector<LogEvent> in = {
      {now - kMaxEventAgeMs - 1, "too old"},
      {now - kMaxEventAgeMs + 1000, "old but fine"},
      {now + kMaxEventFutureMs + 1, "too new"},
      {now + kMaxEventFutureMs - 1000, "ahead but fine"},
      {now, ""},
  };
  PlanCounts c;
  auto plan = plan_requests(in, now, c);
  CHECK(c.too_old == 1);
  CHECK(c.too_new == 1);
  CHECK(c.empty == 1);
  std::size_t total = 0;
  for (const auto& r : plan) total += r.size();
  CHECK(total == 2);
  // the two survivors are 14 days apart: two requests (24 h span)
  CHECK(plan.size() == 2);
}

TEST_CASE("plan_requests sorts stably by timestamp") {
  std::vector<LogEvent> in;
  const std::int64_t now = now_ms();
  for (int i = 0; i < 50; ++i) in.push_back({now - (i % 5) * 1000, "m" + std::to_string(i)});
  PlanCounts c;
  auto plan = plan_requests(in, now, c);
  REQUIRE(plan.size() == 1);
  const auto& r = plan[0];
  REQUIRE(r.size() == 50);
  for (std::size_t i = 1; i < r.size(); ++i) {
    CHECK(r[i - 1].timestamp_ms <= r[i].timestamp_ms);
    if (r[i - 1].timestamp_ms == r[i].timestamp_ms) {
      // equal timestamps keep their input order: m<i> with increasing i
      CHECK(std::stoi(r[i - 1].message.substr(1)) < std::stoi(r[i].message.substr(1)));
    }
  }
}

TEST_CASE("plan_requests splits at 10,000 events, 1,048,576 bytes and 24 hours") {
  const std::int64_t now = now_ms();
  PlanCounts c;
  SUBCASE("count") {
    std::vector<LogEvent> in(25'001, LogEvent{now, "x"});
    auto plan = plan_requests(in, now, c);
    REQUIRE(plan.size() == 3);
    CHECK(plan[0].size() == kMaxRequestEvents);
    CHECK(plan[1].size() == kMaxRequestEvents);
    CHECK(plan[2].size() == 5'001);
  }
  SUBCASE("bytes, counting 26 per event") {
    // 1000 events of 1,024 + 26 bytes: 998 fit in 1,048,576 (998 * 1050 = 1,047,900).
    std::vector<LogEvent> in(1000, LogEvent{now, std::string(1024, 'b')});
    auto plan = plan_requests(in, now, c);
    REQUIRE(plan.size() == 2);
    CHECK(plan[0].size() == 998);
    CHECK(bytes_of(plan[0]) <= kMaxRequestBytes);
    CHECK(bytes_of(plan[0]) + 1050 > kMaxRequestBytes);
    CHECK(plan[1].size() == 2);
  }
  SUBCASE("exactly the byte limit fits") {
    // 4 events of 262,118 + 26 = 262,144 bytes: 4 * 262,144 = 1,048,576.
    std::vector<LogEvent> in(5, LogEvent{now, std::string(262'118, 'c')});
    auto plan = plan_requests(in, now, c);
    REQUIRE(plan.size() == 2);
    CHECK(plan[0].size() == 4);
    CHECK(bytes_of(plan[0]) == kMaxRequestBytes);
    CHECK(c.truncated == 0);
  }
  SUBCASE("span") {
    std::vector<LogEvent> in = {
        {now - 26 * kHour, "a"}, {now - 2 * kHour - 1, "b"}, {now - 2 * kHour, "c"}, {now, "d"}};
    auto plan = plan_requests(in, now, c);
    REQUIRE(plan.size() == 2);
    CHECK(plan[0].size() == 2);  // a and b: 24 h - 1 ms apart; c would make 24 h
    CHECK(plan[1].size() == 2);
    for (const auto& r : plan) CHECK(r.back().timestamp_ms - r.front().timestamp_ms < kMaxRequestSpanMs);
  }
}

TEST_CASE("plan_requests truncates an oversized message at a character boundary and flags it") {
  const std::int64_t now = now_ms();
  // "é" is 2 bytes: an odd limit would cut one in half.
  std::string big;
  while (big.size() < kDefaultMaxEventBytes + 100) big += "é";
  PlanCounts c;
  auto plan = plan_requests({{now, big}, {now, "small"}}, now, c);
  CHECK(c.truncated == 1);
  REQUIRE(plan.size() == 1);
  const std::string& m = plan[0][0].message;
  CHECK(event_size(plan[0][0]) <= kDefaultMaxEventBytes);
  CHECK(m.size() + kEventOverheadBytes > kDefaultMaxEventBytes - 2);  // cut close to the limit
  CHECK(m.substr(m.size() - kTruncatedSuffix.size()) == kTruncatedSuffix);
  const std::string head = m.substr(0, m.size() - kTruncatedSuffix.size());
  CHECK(head.size() % 2 == 0);
  CHECK(head == big.substr(0, head.size()));
  CHECK(plan[0][1].message == "small");
}

TEST_CASE("plan_requests replaces invalid UTF-8") {
  PlanCounts c;
  const std::int64_t now = now_ms();
  auto plan = plan_requests({{now, std::string("ok\xff\xfe end")}, {now, "fine ✓"}}, now, c);
  CHECK(c.invalid_utf8 == 1);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0][0].message == "ok\xEF\xBF\xBD\xEF\xBF\xBD end");
  CHECK(plan[0][1].message == "fine ✓");
}

// ---- JSON, names, placeholders -----------------------------------------------------------------

TEST_CASE("put_log_events_body is valid JSON that reads back the same") {
  std::vector<LogEvent> events = {{1, "quote \" backslash \\ newline \n tab \t ctl \x01 del \x7f"},
                                  {2, "unicode ✓ 日本"}};
  const std::string body = put_log_events_body("/g/x", "s:1", events);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(body).get(root) == simdjson::SUCCESS);
  std::string_view g;
  REQUIRE(root["logGroupName"].get(g) == simdjson::SUCCESS);
  CHECK(g == "/g/x");
  simdjson::dom::array arr;
  REQUIRE(root["logEvents"].get(arr) == simdjson::SUCCESS);
  std::size_t i = 0;
  for (auto e : arr) {
    std::string_view m;
    std::int64_t t = 0;
    REQUIRE(e["message"].get(m) == simdjson::SUCCESS);
    REQUIRE(e["timestamp"].get(t) == simdjson::SUCCESS);
    CHECK(m == events[i].message);
    CHECK(t == events[i].timestamp_ms);
    ++i;
  }
  CHECK(i == 2);
}

TEST_CASE("an error answer's type and message become one bounded line") {
  // Found by fuzz_aws_responses: control characters of x-amzn-errortype or of the JSON message
  // went into log lines and Status messages, and the type was unbounded.
  std::string message;
  CHECK(detail::classify_answer(400, "", "Bad\x1b[31mType\x0b", message) == "rejected");
  CHECK(message == "HTTP 400 Bad [31mType ");
  const std::string long_type(5000, 'T');
  detail::classify_answer(400, "{\"__type\":\"" + long_type + "\"}", "", message);
  CHECK(message.size() < 200);
  // The message is cut at 256 bytes, at a character boundary: 255 ASCII bytes, then "é" (2 bytes).
  const std::string text = std::string(255, 'm') + "\xC3\xA9";
  CHECK(detail::classify_answer(400, "{\"__type\":\"ThrottlingException\",\"message\":\"" + text + "\\nX\"}", "",
                                message) == "throttled");
  CHECK(message == "HTTP 400 ThrottlingException: " + std::string(255, 'm'));
  detail::classify_answer(400, "{\"__type\":\"InvalidParameterException\",\"message\":\"a\\nb\\rc\"}", "", message);
  CHECK(message == "HTTP 400 InvalidParameterException: a b c");
}

TEST_CASE("rejectedLogEventsInfo is clamped to the request") {
  const auto r = detail::parse_rejected_log_events(R"({"rejectedLogEventsInfo":{"tooOldLogEventEndIndex":-3,)"
                                                   R"("expiredLogEventEndIndex":7,"tooNewLogEventStartIndex":2}})",
                                                   5);
  CHECK(r.too_old == 0);
  CHECK(r.expired == 5);
  CHECK(r.too_new == 0);
  CHECK(detail::parse_rejected_log_events("not json", 5).total() == 0);
}

TEST_CASE("retention days, names and tags are checked as CloudWatch checks them") {
  for (int d : {1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
                365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}) {
    CHECK(valid_retention_days(d));
  }
  for (int d : {0, 2, 4, 8, 366, 3654, -1}) CHECK_FALSE(valid_retention_days(d));
  CHECK(check_log_group_name("/aws/vigil/app-1_x.y#z").empty());
  CHECK_FALSE(check_log_group_name("").empty());
  CHECK_FALSE(check_log_group_name("has space").empty());
  CHECK_FALSE(check_log_group_name(std::string(513, 'a')).empty());
  CHECK(check_log_stream_name("pod-1 (x)").empty());
  CHECK_FALSE(check_log_stream_name("a:b").empty());
  CHECK_FALSE(check_log_stream_name("a*b").empty());
  CHECK(check_tag("team", "obs").empty());
  CHECK(check_tag("k8s.io/name", "a b+c=d@e").empty());
  CHECK(check_tag("x", "").empty());
  CHECK_FALSE(check_tag("", "v").empty());
  CHECK_FALSE(check_tag("aws:reserved", "v").empty());
  CHECK_FALSE(check_tag("AWS:reserved", "v").empty());
  CHECK_FALSE(check_tag("bad!", "v").empty());
  CHECK_FALSE(check_tag(std::string(129, 'k'), "v").empty());
  CHECK_FALSE(check_tag("k", std::string(257, 'v')).empty());
}

TEST_CASE("expand_placeholders replaces resource attributes and reports the missing ones") {
  model::Batch batch(model::Signal::kLogs);
  model::Arena& arena = batch.arena();
  model::Attributes attrs;
  attrs.push_back(arena, model::KeyValue{"service.name", model::AnyValue::string("checkout")});
  attrs.push_back(arena, model::KeyValue{"k8s.pod.name", model::AnyValue::string("pod-7")});
  attrs.push_back(arena, model::KeyValue{"shard", model::AnyValue::integer(3)});
  std::string missing;
  CHECK(expand_placeholders("/aws/vigil/{service.name}", attrs, missing) == "/aws/vigil/checkout");
  CHECK(missing.empty());
  CHECK(expand_placeholders("{k8s.pod.name}-{shard}", attrs, missing) == "pod-7-3");
  CHECK(expand_placeholders("/x/{nope}/{service.name}/{gone}", attrs, missing, "fallback") ==
        "/x/fallback/checkout/fallback");
  CHECK(missing == "nope,gone");
  missing.clear();
  CHECK(expand_placeholders("literal {unclosed", attrs, missing) == "literal {unclosed");
  CHECK(missing.empty());
}

// ---- the client against a scripted server ------------------------------------------------------

Response error(int status, const std::string& type, const std::string& message = "injected") {
  return Response{status,
                  {{"content-type", "application/x-amz-json-1.1"}},
                  "{\"__type\":\"" + type + "\",\"message\":\"" + message + "\"}"};
}
Response ok(const std::string& body = "{}") {
  return Response{200, {{"content-type", "application/x-amz-json-1.1"}}, body};
}

std::string target(const Request& r) {
  return r.header("x-amz-target");
}

struct Fixture {
  FakeHttpServer server;
  telemetry::Telemetry telemetry;
  runtime::HttpClient http;
  std::unique_ptr<CloudWatchLogsClient> client;

  explicit Fixture(int retention = 0, runtime::RetrySettings retry = fast_retry()) {
    CloudWatchLogsSettings s;
    s.exporter_id = "awscloudwatchlogs/test";
    s.region = "eu-west-1";
    s.endpoint = server.url();
    s.log_retention_days = retention;
    s.tags = {{"team", "obs"}};
    s.retry = retry;
    s.request_timeout = std::chrono::seconds(10);
    client = std::make_unique<CloudWatchLogsClient>(s, std::make_shared<fakes::StaticCredentials>(), http,
                                                    telemetry);
  }

  static runtime::RetrySettings fast_retry() {
    runtime::RetrySettings r;
    r.initial_interval = std::chrono::milliseconds(1);
    r.max_interval = std::chrono::milliseconds(5);
    r.max_elapsed_time = std::chrono::seconds(20);
    return r;
  }

  double counter(const std::string& name, std::map<std::string, std::string> labels) {
    labels["exporter"] = "awscloudwatchlogs/test";
    return telemetry.counter_family(name, "").Add(labels).Value();
  }
  double dropped(const std::string& reason) {
    return counter("vigil_cloudwatchlogs_events_dropped_total", {{"reason", reason}});
  }
  double sent() { return counter("vigil_cloudwatchlogs_events_sent_total", {}); }
  double requests(const std::string& op, const std::string& outcome) {
    return counter("vigil_cloudwatchlogs_requests_total", {{"operation", op}, {"outcome", outcome}});
  }

  // Messages of every PutLogEvents body the server got, in order.
  std::vector<std::vector<std::string>> put_messages() {
    std::vector<std::vector<std::string>> out;
    simdjson::dom::parser parser;
    for (const auto& r : server.requests()) {
      if (target(r) != "Logs_20140328.PutLogEvents") continue;
      simdjson::dom::element root;
      REQUIRE(parser.parse(r.body).get(root) == simdjson::SUCCESS);
      out.emplace_back();
      for (auto e : root["logEvents"].get_array()) out.back().emplace_back(std::string_view(e["message"]));
    }
    return out;
  }
};

std::vector<LogEvent> events(int n, const std::string& prefix = "e") {
  std::vector<LogEvent> out;
  const std::int64_t now = now_ms();
  for (int i = 0; i < n; ++i) out.push_back({now - n + i, prefix + std::to_string(i)});
  return out;
}

TEST_CASE("client: a signed PutLogEvents with the JSON 1.1 protocol") {
  Fixture f;
  f.server.script(ok());
  CHECK(f.client->put_log_events("/g", "s", events(3)).is_ok());
  REQUIRE(f.server.count() == 1);
  const Request r = f.server.last();
  CHECK(r.method == "POST");
  CHECK(r.path() == "/");
  CHECK(target(r) == "Logs_20140328.PutLogEvents");
  CHECK(r.header("content-type") == "application/x-amz-json-1.1");
  const std::string auth = r.header("authorization");
  CHECK(auth.rfind("AWS4-HMAC-SHA256 Credential=AKIDTEST/", 0) == 0);
  CHECK(auth.find("/eu-west-1/logs/aws4_request") != std::string::npos);
  CHECK(auth.find("x-amz-target") != std::string::npos);
  CHECK(r.has_header("x-amz-date"));
  CHECK(f.put_messages() == std::vector<std::vector<std::string>>{{"e0", "e1", "e2"}});
  CHECK(f.sent() == 3);
  CHECK(f.requests("PutLogEvents", "ok") == 1);
}

TEST_CASE("client: throttling, then success, sends the events once") {
  Fixture f;
  f.server.script(error(400, "ThrottlingException", "Rate exceeded"));
  f.server.script(error(400, "com.amazonaws.logs#ThrottlingException:http://internal", "Rate exceeded"));
  f.server.script(ok());
  CHECK(f.client->put_log_events("/g", "s", events(2)).is_ok());
  CHECK(f.server.count() == 3);
  CHECK(f.requests("PutLogEvents", "throttled") == 2);
  CHECK(f.sent() == 2);
  auto puts = f.put_messages();
  CHECK(puts.size() == 3);
  for (const auto& p : puts) CHECK(p == std::vector<std::string>{"e0", "e1"});
}

TEST_CASE("client: 5xx, ServiceUnavailable and network errors are retried") {
  Fixture f;
  f.server.script(error(500, "InternalFailure"));
  f.server.script(error(503, "ServiceUnavailableException"));
  f.server.script(Response{502, {}, "bad gateway"});
  f.server.script(ok());
  CHECK(f.client->put_log_events("/g", "s", events(1)).is_ok());
  CHECK(f.requests("PutLogEvents", "server_error") == 3);
  CHECK(f.sent() == 1);

  // Nobody listening: network errors until retries run out; nothing delivered, so retryable and
  // nothing counted as dropped.
  runtime::RetrySettings r = Fixture::fast_retry();
  r.max_elapsed_time = std::chrono::milliseconds(30);
  CloudWatchLogsSettings s;
  s.exporter_id = "awscloudwatchlogs/test";
  s.region = "eu-west-1";
  s.retry = r;
  s.request_timeout = std::chrono::seconds(2);
  {
    FakeHttpServer gone;
    s.endpoint = gone.url();
  }
  CloudWatchLogsClient down(s, std::make_shared<fakes::StaticCredentials>(), f.http, f.telemetry);
  const component::Status st = down.put_log_events("/g", "s", events(4));
  CHECK(st.is_retryable());
  CHECK(f.requests("PutLogEvents", "network_error") >= 1);
  CHECK(f.dropped("retries_exhausted") == 0);
}

TEST_CASE("client: InvalidParameterException and other 4xx are permanent, counted") {
  Fixture f;
  f.server.script(error(400, "InvalidParameterException",
                        "Log events in a single PutLogEvents request must be "
                        "in chronological order."));
  const component::Status st = f.client->put_log_events("/g", "s", events(5));
  CHECK(st.is_permanent());
  CHECK(st.message().find("InvalidParameterException") != std::string::npos);
  CHECK(f.server.count() == 1);
  CHECK(f.dropped("invalid_parameter") == 5);

  f.server.script(error(400, "AccessDeniedException", "not allowed"));
  CHECK(f.client->put_log_events("/g", "s", events(2)).is_permanent());
  CHECK(f.server.count() == 2);
  CHECK(f.dropped("rejected") == 2);
  CHECK(f.requests("PutLogEvents", "rejected") == 1);
  CHECK(f.sent() == 0);
}

TEST_CASE("client: rejectedLogEventsInfo is counted by reason") {
  Fixture f;
  // 10 events: [0,2) too old, [0,3) expired, [8,10) too new → 2 too old, 1 expired, 2 too new.
  f.server.script(ok(R"({"nextSequenceToken":"x","rejectedLogEventsInfo":{"tooOldLogEventEndIndex":2,)"
                     R"("expiredLogEventEndIndex":3,"tooNewLogEventStartIndex":8}})"));
  CHECK(f.client->put_log_events("/g", "s", events(10)).is_ok());
  CHECK(f.dropped("too_old") == 2);
  CHECK(f.dropped("expired") == 1);
  CHECK(f.dropped("too_new") == 2);
  CHECK(f.sent() == 5);
}

TEST_CASE("client: events too old or too new are dropped before sending, counted") {
  Fixture f;
  f.server.script(ok());
  const std::int64_t now = now_ms();
  CHECK(f.client
            ->put_log_events("/g", "s",
                             {{now - 15 * 24 * kHour, "old"}, {now, "now"}, {now + 3 * kHour, "new"}})
            .is_ok());
  CHECK(f.put_messages() == std::vector<std::vector<std::string>>{{"now"}});
  CHECK(f.dropped("too_old") == 1);
  CHECK(f.dropped("too_new") == 1);
}

TEST_CASE("client: ResourceNotFoundException creates the group (tags, retention) and stream, then resends") {
  Fixture f(/*retention=*/7);
  f.server.script(error(400, "ResourceNotFoundException", "The specified log group does not exist."));
  f.server.script(
      error(400, "ResourceNotFoundException", "The specified log group does not exist."));  // stream
  f.server.script(ok());                                                                    // CreateLogGroup
  f.server.script(ok());  // PutRetentionPolicy
  f.server.script(ok());  // CreateLogStream
  f.server.script(ok());  // PutLogEvents
  CHECK(f.client->put_log_events("/aws/vigil/app", "pod-1", events(2)).is_ok());
  const auto reqs = f.server.requests();
  REQUIRE(reqs.size() == 6);
  CHECK(target(reqs[0]) == "Logs_20140328.PutLogEvents");
  CHECK(target(reqs[1]) == "Logs_20140328.CreateLogStream");
  CHECK(target(reqs[2]) == "Logs_20140328.CreateLogGroup");
  CHECK(target(reqs[3]) == "Logs_20140328.PutRetentionPolicy");
  CHECK(target(reqs[4]) == "Logs_20140328.CreateLogStream");
  CHECK(target(reqs[5]) == "Logs_20140328.PutLogEvents");
  CHECK(reqs[2].body == R"({"logGroupName":"/aws/vigil/app","tags":{"team":"obs"}})");
  CHECK(reqs[3].body == R"({"logGroupName":"/aws/vigil/app","retentionInDays":7})");
  CHECK(reqs[4].body == R"({"logGroupName":"/aws/vigil/app","logStreamName":"pod-1"})");
  CHECK(f.counter("vigil_cloudwatchlogs_resources_created_total", {{"kind", "log_group"}}) == 1);
  CHECK(f.counter("vigil_cloudwatchlogs_resources_created_total", {{"kind", "log_stream"}}) == 1);
  CHECK(f.sent() == 2);
}

TEST_CASE("client: ResourceAlreadyExistsException counts as success") {
  Fixture f;
  f.server.script(error(400, "ResourceNotFoundException", "The specified log stream does not exist."));
  f.server.script(error(400, "ResourceAlreadyExistsException", "The specified log stream already exists"));
  f.server.script(ok());
  CHECK(f.client->put_log_events("/g", "s", events(1)).is_ok());
  const auto reqs = f.server.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(target(reqs[1]) == "Logs_20140328.CreateLogStream");
  CHECK(target(reqs[2]) == "Logs_20140328.PutLogEvents");
  CHECK(f.sent() == 1);
  CHECK(f.counter("vigil_cloudwatchlogs_resources_created_total", {{"kind", "log_stream"}}) == 0);

  // The group already exists too (created by someone else meanwhile).
  f.server.script(error(400, "ResourceNotFoundException"));
  f.server.script(error(400, "ResourceNotFoundException"));
  f.server.script(error(400, "ResourceAlreadyExistsException"));
  f.server.script(ok());  // CreateLogStream
  f.server.script(ok());  // PutLogEvents
  CHECK(f.client->put_log_events("/g", "s2", events(1)).is_ok());
  CHECK(f.server.count() == 8);
  CHECK(f.sent() == 2);
}

TEST_CASE("client: abort() ends a backoff sleep") {
  runtime::RetrySettings slow = Fixture::fast_retry();
  slow.initial_interval = std::chrono::seconds(60);
  slow.max_interval = std::chrono::seconds(60);
  slow.max_elapsed_time = std::chrono::seconds(600);
  Fixture f(0, slow);
  f.server.set_handler([](const Request&) { return error(400, "ThrottlingException", "Rate exceeded"); });
  auto done = std::async(std::launch::async, [&] { return f.client->put_log_events("/g", "s", events(3)); });
  for (int i = 0; i < 1000 && f.server.count() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(f.server.count() == 1);
  f.client->abort();
  REQUIRE(done.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  // Nothing was delivered: handed back (retryable), not dropped.
  CHECK(done.get().is_retryable());
  CHECK(f.server.count() == 1);
  CHECK(f.dropped("shutdown") == 0);
}

TEST_CASE("client: a batch split into several requests is never resent after a part was delivered") {
  runtime::RetrySettings r = Fixture::fast_retry();
  r.max_elapsed_time = std::chrono::milliseconds(50);
  Fixture f(0, r);
  std::atomic<int> puts{0};
  f.server.set_handler([&](const Request&) {
    // The first request succeeds, every later one is throttled.
    return puts++ == 0 ? ok() : error(400, "ThrottlingException", "Rate exceeded");
  });
  PutOptions o;
  o.hand_back_uncommitted = true;
  const PutResult res = f.client->put("/g", "s", events(10'005), o);
  CHECK(res.status.is_ok());
  CHECK(res.committed);
  CHECK(res.accepted == 10'000);
  CHECK(res.dropped == 5);
  CHECK(f.dropped("retries_exhausted") == 5);
  CHECK(f.sent() == 10'000);
  // Only the second request was retried.
  auto msgs = f.put_messages();
  REQUIRE(msgs.size() >= 2);
  CHECK(msgs[0].size() == 10'000);
  for (std::size_t i = 1; i < msgs.size(); ++i) CHECK(msgs[i].size() == 5);
}

TEST_CASE("client: hand_back_uncommitted returns a retryable failure at once, nothing counted") {
  Fixture f;
  f.server.set_handler([](const Request&) { return error(503, "ServiceUnavailableException"); });
  PutOptions o;
  o.hand_back_uncommitted = true;
  const std::int64_t now = now_ms();
  const PutResult res = f.client->put("/g", "s", {{now, "a"}, {now - 15 * 24 * kHour, "old"}}, o);
  CHECK(res.status.is_retryable());
  CHECK_FALSE(res.committed);
  CHECK(f.server.count() == 1);
  // the too-old event is counted only when the call is not handed back (else it would be twice)
  CHECK(f.dropped("too_old") == 0);

  // committed_before: the failure is not handed back but retried here, then dropped, counted.
  runtime::RetrySettings r = Fixture::fast_retry();
  r.max_elapsed_time = std::chrono::milliseconds(20);
  Fixture g(0, r);
  g.server.set_handler([](const Request&) { return error(503, "ServiceUnavailableException"); });
  o.committed_before = true;
  const PutResult res2 = g.client->put("/g", "s", events(3), o);
  CHECK(res2.status.is_ok());
  CHECK(g.server.count() >= 1);
  CHECK(g.dropped("retries_exhausted") == 3);
}

TEST_CASE("client: invalid UTF-8 is replaced, never sent raw") {
  Fixture f;
  f.server.script(ok());
  CHECK(f.client->put_log_events("/g", "s", {{now_ms(), std::string("bad \xc3\x28 byte")}}).is_ok());
  const std::string body = f.server.last().body;
  CHECK(body.find("bad \xEF\xBF\xBD( byte") != std::string::npos);
  CHECK(f.counter("vigil_cloudwatchlogs_events_invalid_utf8_total", {}) == 1);
}

TEST_CASE("client: an invalid log group name is refused without a request") {
  Fixture f;
  const component::Status st = f.client->put_log_events("bad group name", "s", events(2));
  CHECK(st.is_permanent());
  CHECK(f.server.count() == 0);
  CHECK(f.dropped("invalid_parameter") == 2);
}

}  // namespace
}  // namespace vigil::aws
