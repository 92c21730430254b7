#include "exporters/awscloudwatchlogs/awscloudwatchlogs_exporter.hpp"

#include <chrono>
#include <map>

#include <prometheus/counter.h>

#include "agent/runtime/http_client.hpp"
#include "agent/telemetry/log.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::exporters {

using aws::append_json_value;
using component::Status;

namespace {

constexpr char kType[] = "awscloudwatchlogs";
// What a missing placeholder becomes (the Collector's awsemf uses "undefined" too).
constexpr std::string_view kMissingPlaceholder = "undefined";

void append_hex(std::string& out, const std::uint8_t* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 0xf]);
  }
}

void append_attributes(std::string& out, const model::Attributes& attrs) {
  out.push_back('{');
  bool first = true;
  for (const model::KeyValue& kv : attrs) {
    if (!first) out.push_back(',');
    first = false;
    aws::append_json_string(out, kv.key);
    out.push_back(':');
    append_json_value(out, kv.value);
  }
  out.push_back('}');
}

}  // namespace

std::string cloudwatch_log_message(const model::LogRecord& r, const model::Resource& resource, bool raw_log) {
  std::string out;
  if (raw_log) {
    if (r.body.type() == model::ValueType::kString) return std::string(r.body.string_value());
    if (r.body.empty()) return out;
    append_json_value(out, r.body);
    return out;
  }
  out.push_back('{');
  bool first = true;
  const auto field = [&](std::string_view name) {
    if (!first) out.push_back(',');
    first = false;
    aws::append_json_string(out, name);
    out.push_back(':');
  };
  if (!r.body.empty()) {
    field("body");
    append_json_value(out, r.body);
  }
  if (r.severity_number != 0) {
    field("severity_number");
    out += std::to_string(r.severity_number);
  }
  if (!r.severity_text.empty()) {
    field("severity_text");
    aws::append_json_string(out, r.severity_text);
  }
  if (r.dropped_attributes_count != 0) {
    field("dropped_attributes_count");
    out += std::to_string(r.dropped_attributes_count);
  }
  if (r.flags != 0) {
    field("flags");
    out += std::to_string(r.flags);
  }
  if (!model::is_zero(r.trace_id)) {
    field("trace_id");
    out.push_back('"');
    append_hex(out, r.trace_id.data(), r.trace_id.size());
    out.push_back('"');
  }
  if (!model::is_zero(r.span_id)) {
    field("span_id");
    out.push_back('"');
    append_hex(out, r.span_id.data(), r.span_id.size());
    out.push_back('"');
  }
  if (r.attributes.size() > 0) {
    field("attributes");
    append_attributes(out, r.attributes);
  }
  if (resource.attributes.size() > 0) {
    field("resource");
    append_attributes(out, resource.attributes);
  }
  out.push_back('}');
  return out;
}

AwsCloudWatchLogsOptions read_awscloudwatchlogs_options(const config::Settings& s) {
  AwsCloudWatchLogsOptions o;
  o.region = s.get_string("region");
  o.endpoint = s.get_string("endpoint");
  o.log_group_name = s.get_string("log_group_name");
  o.log_stream_name = s.get_string("log_stream_name");
  o.log_retention = static_cast<int>(s.get_int("log_retention"));
  o.tags = s.get_string_map("tags");
  o.raw_log = s.get_bool("raw_log");
  o.role_arn = s.get_string("role_arn");
  o.profile = s.get_string("profile");
  o.proxy_address = s.get_string("proxy_address");
  o.timeout = s.get_duration("timeout");
  o.retry = runtime::read_retry_settings(s);
  return o;
}

AwsCloudWatchLogsExporter::AwsCloudWatchLogsExporter(AwsCloudWatchLogsOptions options, std::string id,
                                                     telemetry::Telemetry& telemetry)
    : options_(std::move(options)),
      id_(std::move(id)),
      telemetry_(telemetry),
      log_component_("exporter/" + id_) {
  placeholder_missing_ =
      &telemetry
           .counter_family(
               "vigil_awscloudwatchlogs_placeholder_missing_total",
               "Log records whose log group or stream named a resource attribute they lack (the name "
               "then holds \"undefined\").")
           .Add({{"exporter", id_}});
}

AwsCloudWatchLogsExporter::~AwsCloudWatchLogsExporter() {
  shutdown({});
}

void AwsCloudWatchLogsExporter::set_credentials_provider(std::shared_ptr<aws::CredentialsProvider> provider) {
  credentials_ = std::move(provider);
}

Status AwsCloudWatchLogsExporter::start(component::Host&) {
  if (client_) return Status::ok();
  const std::string who = std::string(kType) + " exporter " + id_;
  runtime::HttpClientSettings hs;
  hs.proxy_url = options_.proxy_address;
  auto http = std::make_unique<runtime::HttpClient>(hs);
  if (!http->settings_error().empty())
    return Status::permanent(who + ": proxy_address: " + http->settings_error());

  aws::CredentialSettings cs;
  cs.profile = options_.profile;
  cs.role_arn = options_.role_arn;
  std::string source;
  std::string error;
  const std::string region = aws::resolve_region(options_.region, cs, *http, source, error);
  if (region.empty()) {
    return Status::permanent(who + ": no region: set `region` or AWS_REGION (" + error + ")");
  }
  cs.sts_region = region;
  if (!credentials_) credentials_ = aws::make_default_credentials_provider(cs, *http);

  aws::CloudWatchLogsSettings s;
  s.exporter_id = id_;
  s.region = region;
  s.endpoint = options_.endpoint;
  s.log_retention_days = options_.log_retention;
  s.tags = options_.tags;
  s.retry = options_.retry;
  s.request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout);
  client_ = std::make_unique<aws::CloudWatchLogsClient>(std::move(s), credentials_, *http, telemetry_);
  http_ = std::move(http);
  telemetry::log(telemetry::Level::kInfo, log_component_,
                 "sending logs to " + client_->endpoint() + " (region " + region + " from " + source + ")");
  return Status::ok();
}

void AwsCloudWatchLogsExporter::shutdown(component::Deadline) {
  if (client_) client_->abort();
  client_.reset();
  credentials_.reset();
  http_.reset();
}

Status AwsCloudWatchLogsExporter::send(const model::Batch& batch) {
  if (!client_) return Status::permanent(std::string(kType) + " exporter " + id_ + ": not started");
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  // (group, stream) → events, in first-seen order of the destinations.
  std::map<std::pair<std::string, std::string>, std::vector<aws::LogEvent>> by_destination;
  std::vector<std::pair<std::string, std::string>> order;
  std::size_t missing_records = 0;
  for (const model::ResourceLogs& rl : batch.resource_logs()) {
    std::string missing;
    std::pair<std::string, std::string> dest{
        aws::expand_placeholders(options_.log_group_name, rl.resource.attributes, missing,
                                 kMissingPlaceholder),
        aws::expand_placeholders(options_.log_stream_name, rl.resource.attributes, missing,
                                 kMissingPlaceholder)};
    auto [it, inserted] = by_destination.try_emplace(dest);
    if (inserted) order.push_back(dest);
    std::size_t records = 0;
    for (const model::ScopeLogs& sl : rl.scope_logs) {
      for (const model::LogRecord& r : sl.log_records) {
        ++records;
        const std::uint64_t ns = r.time_unix_nano != 0 ? r.time_unix_nano : r.observed_time_unix_nano;
        const std::int64_t ts = ns != 0 ? static_cast<std::int64_t>(ns / 1'000'000) : now_ms;
        it->second.push_back({ts, cloudwatch_log_message(r, rl.resource, options_.raw_log)});
      }
    }
    if (!missing.empty() && records > 0) {
      missing_records += records;
      telemetry::log_limited(telemetry::Level::kWarn, log_component_ + "/placeholder", log_component_,
                             "resource attributes missing for the log group/stream name: " + missing +
                                 " (using \"" + std::string(kMissingPlaceholder) + "\")");
    }
  }

  bool committed = false;
  bool any_accepted = false;
  Status last_permanent;
  for (const auto& dest : order) {
    auto& events = by_destination[dest];
    if (events.empty()) continue;
    aws::PutOptions po;
    po.committed_before = committed;
    po.hand_back_uncommitted = true;
    aws::PutResult r = client_->put(dest.first, dest.second, std::move(events), po);
    if (r.status.is_retryable()) return r.status;  // nothing of this batch was delivered or counted yet
    if (!committed && missing_records > 0)
      placeholder_missing_->Increment(static_cast<double>(missing_records));
    committed = true;
    any_accepted = any_accepted || r.accepted > 0;
    if (r.status.is_permanent()) last_permanent = r.status;
  }
  // Partly delivered: the rest is counted by reason in the client's metrics; the helper must not
  // resend (Ok). Nothing delivered and refused: permanent, so the helper logs and counts it too.
  if (!any_accepted && last_permanent.is_permanent()) return last_permanent;
  return Status::ok();
}

// ---- factory --------------------------------------------------------------------------------------

component::Factory awscloudwatchlogs_exporter_factory() {
  using namespace config;
  component::Factory f;
  f.kind = component::Kind::kExporter;
  f.type = kType;
  f.description = "Sends logs to Amazon CloudWatch Logs (PutLogEvents, SigV4).";
  f.signals = {model::Signal::kLogs};
  f.schema = {
      opt_string("region", "", "AWS region; empty: AWS_REGION, AWS_DEFAULT_REGION, the profile's, or IMDS."),
      opt_string("endpoint", "", "CloudWatch Logs endpoint URL; empty: https://logs.<region>.amazonaws.com."),
      required(
          opt_string("log_group_name", "",
                     "Log group; may name resource attributes as {attribute} (/aws/vigil/{service.name}).")),
      required(
          opt_string("log_stream_name", "", "Log stream; may name resource attributes ({k8s.pod.name}).")),
      opt_int("log_retention", 0, "Retention in days of log groups this exporter creates; 0: never expire.",
              0),
      opt_string_map("tags", "Tags of log groups this exporter creates (at most 50)."),
      opt_bool("raw_log", false,
               "true: the log body as it is; false: a JSON object with body, severity, trace and "
               "span IDs, attributes and resource."),
      opt_string("role_arn", "",
                 "IAM role to assume (STS AssumeRole) with the default credential chain's credentials."),
      opt_string("profile", "", "Shared config/credentials profile; empty: AWS_PROFILE or default."),
      opt_string("proxy_address", "", "Proxy for every request; empty: HTTPS_PROXY / NO_PROXY decide."),
      opt_duration("timeout", "30s", "Time limit of one API call.", 0.001),
  };
  f.validate = [](const Settings& s, const std::string& id, Errors& errors) {
    const std::int64_t retention = s.get_int("log_retention");
    if (retention != 0 && !aws::valid_retention_days(retention)) {
      errors.push_back({s.location("log_retention"), id,
                        "log_retention: " + std::to_string(retention) +
                            " is not a CloudWatch retention; use 0 "
                            "(never expire) or one of " +
                            aws::retention_days_list()});
    }
    const auto tags = s.get_string_map("tags");
    if (tags.size() > aws::kMaxTags) {
      errors.push_back({s.location("tags"), id,
                        "tags: " + std::to_string(tags.size()) + " tags, CloudWatch allows at most 50"});
    }
    for (const auto& [k, v] : tags) {
      if (std::string e = aws::check_tag(k, v); !e.empty())
        errors.push_back({s.location("tags"), id, "tags: " + e});
    }
    // The names without their placeholders must already be valid ("{x}" stands for "x").
    const auto check_name = [&](const char* key, std::string (*check)(std::string_view)) {
      const std::string value = s.get_string(key);
      if (value.empty()) return;  // `required` reports it
      std::string literal;
      for (char c : value) {
        if (c != '{' && c != '}') literal.push_back(c);
      }
      if (std::string e = check(literal); !e.empty()) {
        errors.push_back({s.location(key), id, std::string(key) + " \"" + value + "\": " + e});
      }
    };
    check_name("log_group_name", aws::check_log_group_name);
    check_name("log_stream_name", aws::check_log_stream_name);
    if (const std::string ep = s.get_string("endpoint");
        !ep.empty() && ep.rfind("http://", 0) != 0 && ep.rfind("https://", 0) != 0) {
      errors.push_back(
          {s.location("endpoint"), id, "endpoint \"" + ep + "\": must start with https:// or http://"});
    }
  };
  f.create_exporter = [](const component::CreateSettings& cs,
                         model::Signal) -> std::unique_ptr<component::Sender> {
    return std::make_unique<AwsCloudWatchLogsExporter>(read_awscloudwatchlogs_options(cs.settings), cs.id,
                                                       cs.telemetry);
  };
  return f;
}

}  // namespace vigil::exporters
