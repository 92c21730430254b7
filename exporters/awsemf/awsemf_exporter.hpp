#pragma once
// The `awsemf` exporter: OTLP metrics as CloudWatch Embedded Metric Format log events, with the
// option names and defaults of the Collector's exporter/awsemfexporter (see README.md). The
// translation (emf_translator.hpp) turns each batch into EMF JSON documents; each document is
// one log event sent through the shared CloudWatch Logs client (agent/aws/cloudwatch_logs.hpp),
// or one line on the process's stdout (`output_destination: stdout`, for Lambda and FireLens,
// where the platform ships stdout to CloudWatch). The runtime's exporter helper queues and
// retries (sending_queue, retry_on_failure).
//
// Ownership and threads: one AwsEmfExporter per exporter ID (metrics only). send() is called
// from up to sending_queue.num_consumers threads at once; the translator serialises its shared
// state, the CloudWatch Logs client is thread-safe, stdout lines are written whole under a lock.
// start() and shutdown() come from the control thread and never run concurrently with send().

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/component/component.hpp"
#include "agent/component/factory.hpp"
#include "agent/runtime/exporter_helper.hpp"
#include "exporters/awsemf/emf_translator.hpp"

namespace prometheus {
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace vigil::runtime {
class HttpClient;
}
namespace vigil::aws {
class CloudWatchLogsClient;
}

namespace vigil::exporters {

struct AwsEmfExporterOptions {
  enum class Destination { kCloudWatch, kStdout };

  awsemf::TranslatorOptions translator;  // namespace, rollup, declarations, log group/stream, ...
  Destination output_destination = Destination::kCloudWatch;
  std::string region;
  std::string endpoint;  // "" → https://logs.<region>.amazonaws.com
  std::string role_arn;
  int log_retention_days = 0;
  std::vector<std::pair<std::string, std::string>> tags;
  runtime::RetrySettings retry;  // retry_on_failure, also the client's per-request retries
  // Tests only (not config options): where credentials and IMDS are looked up.
  std::string sts_endpoint;
  std::string imds_endpoint;
};

// Reads a validated config (the factory's schema). Declarations are read as validate() checked them.
AwsEmfExporterOptions read_awsemf_exporter_options(const config::Settings& settings);

class AwsEmfExporter : public component::Sender {
 public:
  // Writes one stdout line (the document, without its newline). Tests capture with their own.
  using LineWriter = std::function<void(std::string_view line)>;

  AwsEmfExporter(AwsEmfExporterOptions options, std::string id, telemetry::Telemetry& telemetry,
                 LineWriter writer = {});
  ~AwsEmfExporter() override;

  // Permanent errors: an invalid regular expression; for cloudwatch, no region found.
  component::Status start(component::Host& host) override;
  // Wakes the client's retry sleeps. Safe without start(); never concurrent with send().
  void shutdown(component::Deadline deadline) override;
  // Translates and sends. Retryable when nothing of the batch could be delivered (the helper
  // then resends it, and the translation gives the same documents again).
  component::Status send(const model::Batch& batch) override;

  // The translator, once started (tests read its series counts).
  const awsemf::Translator* translator() const { return translator_.get(); }

 private:
  void record(const awsemf::TranslateStats& stats);
  component::Status send_cloudwatch(std::vector<awsemf::Document>&& docs);

  AwsEmfExporterOptions options_;
  const std::string id_;
  telemetry::Telemetry& telemetry_;
  LineWriter writer_;
  std::shared_ptr<void> shared_holder_;  // keeps the state registered in SharedState
  std::shared_ptr<awsemf::TranslatorState> state_;
  std::unique_ptr<awsemf::Translator> translator_;
  std::unique_ptr<runtime::HttpClient> http_;
  std::unique_ptr<aws::CloudWatchLogsClient> client_;

  prometheus::Counter* documents_ = nullptr;
  prometheus::Counter* baseline_ = nullptr;
  prometheus::Counter* folded_points_ = nullptr;
  prometheus::Gauge* series_ = nullptr;
  prometheus::Gauge* folded_series_ = nullptr;
  prometheus::Family<prometheus::Counter>* dropped_ = nullptr;
  prometheus::Family<prometheus::Counter>* adjusted_ = nullptr;
};

component::Factory awsemf_exporter_factory();

}  // namespace vigil::exporters
