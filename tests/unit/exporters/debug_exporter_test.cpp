#include "exporters/debug/debug_exporter.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/telemetry/telemetry.hpp"
#include "tests/unit/exporters/exporter_test_support.hpp"
#include "tests/support/test_batches.hpp"

using namespace vigil;
using exporters::DebugVerbosity;
using exporters::format_debug;
namespace mt = vigil::model::testing;

namespace {

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Captures what a DebugExporter writes.
struct Capture {
  char* buf = nullptr;
  std::size_t size = 0;
  std::FILE* file = open_memstream(&buf, &size);
  ~Capture() {
    if (file) std::fclose(file);
    std::free(buf);
  }
  std::string text() {
    std::fflush(file);
    return std::string(buf, size);
  }
};

}  // namespace

TEST_CASE("debug basic: one summary line per batch, per signal") {
  CHECK(format_debug(mt::full_logs(), DebugVerbosity::kBasic) == "Logs: resource logs: 1, log records: 2\n");
  CHECK(format_debug(mt::full_traces(), DebugVerbosity::kBasic) == "Traces: resource spans: 1, spans: 2\n");
  CHECK(format_debug(mt::full_metrics(), DebugVerbosity::kBasic) ==
        "Metrics: resource metrics: 1, metrics: 6, data points: 7\n");
  CHECK(format_debug(mt::make_logs({{1, 2}, {3}}), DebugVerbosity::kBasic) ==
        "Logs: resource logs: 2, log records: 6\n");
}

TEST_CASE("debug normal: one line per record") {
  std::string logs = format_debug(mt::full_logs(), DebugVerbosity::kNormal);
  auto l = lines(logs);
  REQUIRE(l.size() == 3);
  CHECK(l[0] == "Logs: resource logs: 1, log records: 2");
  // timestamp, severity, body (control chars escaped), attributes
  CHECK(l[1].rfind("2023-11-14T22:13:20.123456789Z ERROR payment failed: \"card\" \\ declined\\t\\x01 {",
                   0) == 0);
  CHECK(contains(l[1], "str=text \"quoted\"\\n"));
  CHECK(contains(l[1], "int=-9007199254740993"));
  CHECK(contains(l[1], "array=[\"a0\",{k1:\"v1\",k2:7},null]"));
  CHECK(l[2].rfind("1970-01-01T00:00:00.000000000Z Unspecified ", 0) == 0);

  auto t = lines(format_debug(mt::full_traces(), DebugVerbosity::kNormal));
  REQUIRE(t.size() == 3);
  CHECK(t[1].rfind("a0b1c2d3e4f5061728394a5b6c7d8e9f 0b2a496887a6c5e4 GET /orders duration=", 0) == 0);
  CHECK(contains(t[1], "status=Error"));
  CHECK(contains(format_debug(mt::make_spans({{1}}), DebugVerbosity::kNormal), " span-0 duration=0ms"));

  auto m = lines(format_debug(mt::full_metrics(), DebugVerbosity::kNormal));
  REQUIRE(m.size() == 7);
  CHECK(m[1] == "queue.depth Gauge | {queue=q1} 0 | NaN");
  CHECK(m[2] == "orders.total Sum | 9223372036854775807");
  CHECK(m[3] == "latency Histogram | count=6 sum=0 | count=0");
  CHECK(m[4] == "size ExponentialHistogram | count=5 sum=1e+300");
  CHECK(m[5] == "rpc.duration Summary | count=3 sum=7.5");
  CHECK(m[6] == "no.data Empty");
}

TEST_CASE("debug detailed: every field, nested") {
  std::string logs = format_debug(mt::full_logs(), DebugVerbosity::kDetailed);
  for (const char* want : {"ResourceLog #0\n",
                           "Resource SchemaURL: https://opentelemetry.io/schemas/1.21.0\n",
                           "Resource attributes:\n     -> str: Str(text \"quoted\"\\n)\n",
                           "     -> bool: Bool(true)\n",
                           "     -> bytes: Bytes(0001feff)\n",
                           "     -> array: Slice([\"a0\",{k1:\"v1\",k2:7},null])\n",
                           "     -> empty: Empty()\n",
                           "ScopeLogs #0\n",
                           "ScopeLogs SchemaURL: scope-schema\n",
                           "InstrumentationScope my.scope 1.2.3\n",
                           "InstrumentationScope attributes:\n",
                           "LogRecord #0\n",
                           "LogRecord #1\n",
                           "ObservedTimestamp: 2023-11-14 22:13:20.987654321 +0000 UTC\n",
                           "Timestamp: 2023-11-14 22:13:20.123456789 +0000 UTC\n",
                           "SeverityText: ERROR\n",
                           "SeverityNumber: Error(17)\n",
                           "EventName: payment.failed\n",
                           "Trace ID: 0112233445566778899aabbccddeef00\n",
                           "Span ID: 0221405f7e9dbcdb\n",
                           "Flags: 1\n",
                           "Body: Empty()\n"}) {
    CHECK_MESSAGE(contains(logs, want), want);
  }

  std::string traces = format_debug(mt::full_traces(), DebugVerbosity::kDetailed);
  for (const char* want :
       {"ResourceSpans #0\n", "Span #0\n", "    Trace ID       : a0b1c2d3e4f5061728394a5b6c7d8e9f\n",
        "    Name           : GET /orders\n", "    Kind           : Server\n",
        "    TraceState     : vendor=1\n", "    Status code    : Error\n", "    Status message : boom\n",
        "Events:\nSpanEvent #0\n     -> Name: exception\n", "          -> exception.type: Str(IOError)\n",
        "Links:\nSpanLink #0\n", "     -> TraceState: ts=2\n", "          -> link.attr: Int(3)\n",
        "Span #1\n"}) {
    CHECK_MESSAGE(contains(traces, want), want);
  }

  std::string metrics = format_debug(mt::full_metrics(), DebugVerbosity::kDetailed);
  for (const char* want :
       {"Metric #0\nDescriptor:\n     -> Name: queue.depth\n     -> Description: items waiting\n"
        "     -> Unit: {item}\n     -> DataType: Gauge\n",
        "NumberDataPoints #0\nData point attributes:\n     -> queue: Str(q1)\n",
        "Value: 0\n",
        "Value: NaN\n",
        "Exemplars:\nExemplar #0\n",
        "     -> Value: -5\n",
        "     -> DataType: Sum\n     -> IsMonotonic: true\n     -> AggregationTemporality: Cumulative\n",
        "Value: 9223372036854775807\n",
        "HistogramDataPoints #0\n",
        "Count: 6\n",
        "Sum: 0\n",
        "Min: -Inf\n",
        "Max: 12.75\n",
        "ExplicitBounds #1: +Inf\n",
        "Buckets #2, Count: 3\n",
        "ExponentialHistogramDataPoints #0\n",
        "Scale: -2\n",
        "ZeroCount: 1\n",
        "Positive buckets: offset -3, counts [1,18446744073709551615]\n",
        "Negative buckets: offset 0, counts []\n",
        "SummaryDataPoints #0\n",
        "QuantileValue #1: Quantile 0.99, Value 4.25\n",
        "Metadata:\n     -> meta: Str(m)\n",
        "     -> Name: no.data\n"}) {
    CHECK_MESSAGE(contains(metrics, want), want);
  }
}

TEST_CASE("debug exporter writes whole batches from concurrent senders") {
  Capture cap;
  REQUIRE(cap.file != nullptr);
  exporters::DebugExporter exp(DebugVerbosity::kNormal, cap.file);
  exporters::testing::UnusedHost host;
  REQUIRE(exp.start(host).is_ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&exp, t] {
      model::Batch b = mt::make_logs({{3}}, static_cast<std::uint64_t>(t) * 1000);
      for (int i = 0; i < kPerThread; ++i) CHECK(exp.send(b).is_ok());
    });
  }
  for (auto& th : threads) th.join();
  exp.shutdown({});
  auto l = lines(cap.text());
  REQUIRE(l.size() == static_cast<std::size_t>(kThreads * kPerThread * 4));
  // Every block is a summary followed by its own three records, never mixed with another's.
  for (std::size_t i = 0; i < l.size(); i += 4) {
    CHECK(l[i] == "Logs: resource logs: 1, log records: 3");
    const std::string body0 = l[i + 1].substr(l[i + 1].find(" rec-"));
    const std::uint64_t first = std::stoull(body0.substr(5));
    CHECK(contains(l[i + 2], " rec-" + std::to_string(first + 1)));
    CHECK(contains(l[i + 3], " rec-" + std::to_string(first + 2)));
  }
}

TEST_CASE("debug factory") {
  component::Factory f = exporters::debug_exporter_factory();
  CHECK(f.kind == component::Kind::kExporter);
  CHECK(f.type == "debug");
  CHECK_FALSE(f.exporter_queue);
  CHECK(f.supports(model::Signal::kTraces));
  CHECK(f.supports(model::Signal::kMetrics));
  CHECK(f.supports(model::Signal::kLogs));

  config::Value node = exporters::testing::map({{"verbosity", exporters::testing::scalar("detailed")}});
  config::Errors errors;
  config::validate(f.schema, &node, {}, "debug", errors);
  CHECK(errors.empty());
  config::Settings settings(&f.schema, &node, {});
  CHECK(exporters::read_debug_verbosity(settings) == DebugVerbosity::kDetailed);

  config::Settings defaults(&f.schema, nullptr, {});
  CHECK(exporters::read_debug_verbosity(defaults) == DebugVerbosity::kBasic);

  config::Value bad = exporters::testing::map({{"verbosity", exporters::testing::scalar("loud")}});
  errors.clear();
  config::validate(f.schema, &bad, {}, "debug", errors);
  CHECK(errors.size() == 1);

  telemetry::Telemetry tel;
  component::CreateSettings cs{"debug", settings, tel, ""};
  auto sender = f.create_exporter(cs, model::Signal::kLogs);
  REQUIRE(sender != nullptr);
  sender->shutdown({});
}
