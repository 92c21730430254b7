#pragma once
// The `awscloudwatchlogs` exporter: log records to CloudWatch Logs through PutLogEvents (the
// shared aws::CloudWatchLogsClient), with the option names of the Collector's
// awscloudwatchlogsexporter (see README.md). The log group and stream may name resource
// attributes ("/aws/vigil/{service.name}"); records are grouped per (group, stream) and each
// group goes out in requests within CloudWatch's limits.
//
// Retries: the client retries a request itself only once part of the batch has been delivered
// (resending the batch would duplicate that part); before that, a retryable failure is returned
// to the exporter helper, whose retry_on_failure backs off, is cut at shutdown and hands the
// batch over at a reload. So nothing is resent twice by our own retries, and every event that is
// not delivered is counted with a reason.
//
// Ownership and threads: one exporter per (ID, signal = logs). send() is called from up to
// sending_queue.num_consumers threads at once; start()/shutdown() from the control thread, never
// concurrently with send(). It owns its HttpClient, credentials provider and client.

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/aws/cloudwatch_logs.hpp"
#include "agent/component/component.hpp"
#include "agent/component/factory.hpp"
#include "agent/model/logs.hpp"

namespace prometheus {
class Counter;
}
namespace vigil::runtime {
class HttpClient;
}

namespace vigil::exporters {

struct AwsCloudWatchLogsOptions {
  std::string region;    // "" → AWS_REGION, AWS_DEFAULT_REGION, profile, IMDS
  std::string endpoint;  // "" → https://logs.<region>.amazonaws.com
  std::string log_group_name;
  std::string log_stream_name;
  int log_retention = 0;  // days; 0: never expire
  std::vector<std::pair<std::string, std::string>> tags;
  bool raw_log = false;
  std::string role_arn;
  std::string profile;
  std::string proxy_address;
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
  runtime::RetrySettings retry;
};

AwsCloudWatchLogsOptions read_awscloudwatchlogs_options(const config::Settings& settings);

// The message of one record: the body as it is (raw_log; a non-string body as JSON), or the
// Collector's cwLogBody JSON object (body, severity_number, severity_text, flags, trace_id,
// span_id, attributes, resource; empty fields left out).
std::string cloudwatch_log_message(const model::LogRecord& record, const model::Resource& resource,
                                   bool raw_log);

class AwsCloudWatchLogsExporter : public component::Sender {
 public:
  AwsCloudWatchLogsExporter(AwsCloudWatchLogsOptions options, std::string id,
                            telemetry::Telemetry& telemetry);
  ~AwsCloudWatchLogsExporter() override;

  // For tests: use this credentials provider instead of the default chain.
  void set_credentials_provider(std::shared_ptr<aws::CredentialsProvider> provider);

  // Resolves the region, builds the HTTP client and the credential chain. Permanent: no region.
  component::Status start(component::Host& host) override;
  void shutdown(component::Deadline deadline) override;
  component::Status send(const model::Batch& batch) override;

 private:
  const AwsCloudWatchLogsOptions options_;
  const std::string id_;
  telemetry::Telemetry& telemetry_;
  std::string log_component_;
  prometheus::Counter* placeholder_missing_ = nullptr;
  std::shared_ptr<aws::CredentialsProvider> credentials_;
  std::unique_ptr<runtime::HttpClient> http_;
  std::unique_ptr<aws::CloudWatchLogsClient> client_;
};

component::Factory awscloudwatchlogs_exporter_factory();

}  // namespace vigil::exporters
