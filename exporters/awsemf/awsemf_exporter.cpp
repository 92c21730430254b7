#include "exporters/awsemf/awsemf_exporter.hpp"

#include <re2/re2.h>

#include <cstdio>
#include <map>
#include <mutex>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include "agent/aws/cloudwatch_logs.hpp"
#include "agent/aws/credentials.hpp"
#include "agent/runtime/http_client.hpp"
#include "agent/telemetry/log.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::exporters {

using component::Status;
using model::Signal;

namespace {

constexpr char kType[] = "awsemf";

// ---- metric_declarations -----------------------------------------------------------------------

// Reads metric_declarations (a kAny option). Every problem goes to `errors` (when given).
std::vector<awsemf::MetricDeclaration> parse_declarations(const config::Value* node, const std::string& id,
                                                          config::Errors* errors) {
  std::vector<awsemf::MetricDeclaration> out;
  const auto fail = [&](const config::Location& where, const std::string& message) {
    if (errors != nullptr) errors->push_back({where, id, "metric_declarations" + message});
  };
  if (node == nullptr || node->is_null()) return out;
  if (!node->is_seq()) {
    fail(node->location, ": must be a list of declarations");
    return out;
  }
  re2::RE2::Options re_options;
  re_options.set_log_errors(false);
  const auto regex_ok = [&](const config::Value& v, const std::string& where) {
    re2::RE2 re(v.scalar, re_options);
    if (!re.ok())
      fail(v.location, where + ": \"" + v.scalar + "\" is not a valid RE2 expression: " + re.error());
  };
  const auto strings = [&](const config::Value& v, const std::string& where, std::vector<std::string>& into) {
    if (v.is_null()) return true;
    if (!v.is_seq()) {
      fail(v.location, where + ": must be a list of strings");
      return false;
    }
    for (const config::Value& item : v.items) {
      if (!item.is_scalar()) {
        fail(item.location, where + ": must be a list of strings");
        return false;
      }
      into.push_back(item.scalar);
    }
    return true;
  };
  for (std::size_t i = 0; i < node->items.size(); ++i) {
    const config::Value& d = node->items[i];
    const std::string at = "[" + std::to_string(i) + "]";
    if (!d.is_map()) {
      fail(d.location, at + ": must be a map (dimensions, metric_name_selectors, label_matchers)");
      continue;
    }
    awsemf::MetricDeclaration decl;
    for (const auto& e : d.entries) {
      const std::string where = at + "." + e.key;
      if (e.key == "dimensions") {
        if (e.value.is_null()) continue;
        if (!e.value.is_seq()) {
          fail(e.value.location, where + ": must be a list of dimension sets (lists of label names)");
          continue;
        }
        for (std::size_t s = 0; s < e.value.items.size(); ++s) {
          std::vector<std::string> set;
          const std::string set_at = where + "[" + std::to_string(s) + "]";
          if (!strings(e.value.items[s], set_at, set)) continue;
          if (set.size() > awsemf::kMaxDimensionsPerSet) {
            fail(e.value.items[s].location, set_at + ": at most " +
                                                std::to_string(awsemf::kMaxDimensionsPerSet) +
                                                " dimensions per set (CloudWatch's limit)");
            continue;
          }
          decl.dimensions.push_back(std::move(set));
        }
      } else if (e.key == "metric_name_selectors") {
        if (strings(e.value, where, decl.metric_name_selectors)) {
          for (const config::Value& item : e.value.items) regex_ok(item, where);
        }
      } else if (e.key == "label_matchers") {
        if (e.value.is_null()) continue;
        if (!e.value.is_seq()) {
          fail(e.value.location, where + ": must be a list of matchers (label_names, separator, regex)");
          continue;
        }
        for (std::size_t m = 0; m < e.value.items.size(); ++m) {
          const config::Value& mv = e.value.items[m];
          const std::string m_at = where + "[" + std::to_string(m) + "]";
          if (!mv.is_map()) {
            fail(mv.location, m_at + ": must be a map (label_names, separator, regex)");
            continue;
          }
          awsemf::LabelMatcher matcher;
          bool has_regex = false;
          for (const auto& me : mv.entries) {
            if (me.key == "label_names") {
              strings(me.value, m_at + ".label_names", matcher.label_names);
            } else if (me.key == "separator" && me.value.is_scalar()) {
              matcher.separator = me.value.scalar;
            } else if (me.key == "regex" && me.value.is_scalar()) {
              matcher.regex = me.value.scalar;
              has_regex = true;
              regex_ok(me.value, m_at + ".regex");
            } else {
              fail(me.key_location, m_at + ": unknown or invalid key '" + me.key +
                                        "' (known keys: label_names, separator, regex)");
            }
          }
          if (matcher.label_names.empty())
            fail(mv.location, m_at + ": label_names must name at least one label");
          if (!has_regex) fail(mv.location, m_at + ": regex is required");
          decl.label_matchers.push_back(std::move(matcher));
        }
      } else {
        fail(e.key_location, at + ": unknown key '" + e.key +
                                 "' (known keys: dimensions, metric_name_selectors, label_matchers)");
      }
    }
    if (decl.metric_name_selectors.empty()) {
      fail(d.location, at + ": metric_name_selectors must list at least one regular expression");
    }
    out.push_back(std::move(decl));
  }
  return out;
}

awsemf::DimensionRollup parse_rollup(const std::string& s) {
  if (s == "NoDimensionRollup") return awsemf::DimensionRollup::kNone;
  if (s == "SingleDimensionRollupOnly" || s == "SingleDimensionRollup")
    return awsemf::DimensionRollup::kSingleOnly;
  return awsemf::DimensionRollup::kZeroAndSingle;
}

// A complete type for SharedState (which needs typeid) around the translator's opaque state.
struct SharedTranslatorState {
  std::shared_ptr<awsemf::TranslatorState> state = awsemf::make_translator_state();
};

bool has_placeholder(const std::string& s) {
  return s.find('{') != std::string::npos;
}

// One stdout line per document, whole: lines of concurrent senders never interleave.
void write_stdout_line(std::string_view line) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace

AwsEmfExporterOptions read_awsemf_exporter_options(const config::Settings& s) {
  AwsEmfExporterOptions o;
  o.translator.metric_namespace = s.get_string("namespace");
  o.translator.log_group_name = s.get_string("log_group_name");
  o.translator.log_stream_name = s.get_string("log_stream_name");
  o.translator.rollup = parse_rollup(s.get_string("dimension_rollup_option"));
  o.translator.metric_declarations = parse_declarations(s.raw("metric_declarations"), "", nullptr);
  o.translator.resource_to_telemetry = s.get_bool("resource_to_telemetry_conversion.enabled");
  o.translator.retain_initial_value_of_delta_metric = s.get_bool("retain_initial_value_of_delta_metric");
  o.translator.max_series = static_cast<std::size_t>(s.get_int("max_series"));
  o.output_destination = s.get_string("output_destination") == "stdout"
                             ? AwsEmfExporterOptions::Destination::kStdout
                             : AwsEmfExporterOptions::Destination::kCloudWatch;
  o.region = s.get_string("region");
  o.endpoint = s.get_string("endpoint");
  o.role_arn = s.get_string("role_arn");
  o.log_retention_days = static_cast<int>(s.get_int("log_retention"));
  o.tags = s.get_string_map("tags");
  if (s.node() != nullptr && s.node()->find("retry_on_failure") != nullptr)
    o.retry = runtime::read_retry_settings(s);
  return o;
}

// ---- the exporter --------------------------------------------------------------------------------

AwsEmfExporter::AwsEmfExporter(AwsEmfExporterOptions options, std::string id, telemetry::Telemetry& telemetry,
                               LineWriter writer)
    : options_(std::move(options)), id_(std::move(id)), telemetry_(telemetry), writer_(std::move(writer)) {
  const prometheus::Labels base{{"exporter", id_}};
  const auto counter = [&](const char* name, const char* help) {
    return &telemetry.counter_family(name, help).Add(base);
  };
  const auto gauge = [&](const char* name, const char* help) {
    return &telemetry.gauge_family(name, help).Add(base);
  };
  documents_ = counter("vigil_awsemf_documents_total", "EMF documents sent (one log event each).");
  baseline_ = counter("vigil_awsemf_baseline_points_total",
                      "First points of cumulative series, kept as the baseline of the next delta.");
  folded_points_ = counter("vigil_awsemf_folded_points_total",
                           "Points sent under the otel.overflow dimension because max_series was reached.");
  series_ = gauge("vigil_awsemf_series", "Distinct CloudWatch metric series sent this hour.");
  folded_series_ = gauge("vigil_awsemf_folded_series",
                         "Distinct series folded into otel.overflow this hour (max_series reached).");
  dropped_ =
      &telemetry.counter_family("vigil_awsemf_dropped_points_total", "Data points not sent, by reason.");
  adjusted_ = &telemetry.counter_family("vigil_awsemf_adjustments_total",
                                        "Changes made to fit the EMF rules (dimensions_dropped, "
                                        "value_truncated, buckets_merged, ...), by reason.");
  // Deltas and the hour's series survive a config reload (the same exporter ID).
  auto shared = telemetry.shared_state().get<SharedTranslatorState>(
      std::string(kType) + "/" + id_, [] { return std::make_shared<SharedTranslatorState>(); });
  state_ = shared->state;
  shared_holder_ = std::move(shared);
}

AwsEmfExporter::~AwsEmfExporter() = default;

Status AwsEmfExporter::start(component::Host&) {
  const std::string who = "awsemf exporter " + id_;
  awsemf::TranslatorOptions topts = options_.translator;
  topts.expand = [id = id_](const std::string& pattern, const model::Attributes& resource) {
    if (!has_placeholder(pattern)) return pattern;
    std::string missing;
    std::string out = aws::expand_placeholders(pattern, resource, missing);
    if (!missing.empty()) {
      telemetry::log_limited(
          telemetry::Level::kWarn, id + "/placeholder", id,
          "resource attributes missing for \"" + pattern + "\": " + missing + " (replaced by \"undefined\")");
    }
    return out;
  };
  std::string error;
  translator_ = awsemf::Translator::create(std::move(topts), state_, error);
  if (!translator_) return Status::permanent(who + ": " + error);
  if (!writer_) writer_ = write_stdout_line;
  if (options_.output_destination == AwsEmfExporterOptions::Destination::kStdout) return Status::ok();

  http_ = std::make_unique<runtime::HttpClient>();
  aws::CredentialSettings cred;
  cred.role_arn = options_.role_arn;
  cred.sts_endpoint = options_.sts_endpoint;
  cred.imds_endpoint = options_.imds_endpoint;
  std::string source;
  const std::string region = aws::resolve_region(options_.region, cred, *http_, source, error);
  if (region.empty()) {
    return Status::permanent(who +
                             ": no AWS region (set `region`, AWS_REGION or AWS_DEFAULT_REGION): " + error);
  }
  aws::CloudWatchLogsSettings cw;
  cw.exporter_id = id_;
  cw.region = region;
  cw.endpoint = options_.endpoint;
  cw.log_retention_days = options_.log_retention_days;
  cw.tags = options_.tags;
  cw.retry = options_.retry;
  client_ = std::make_unique<aws::CloudWatchLogsClient>(
      cw, aws::make_default_credentials_provider(cred, *http_), *http_, telemetry_);
  telemetry::log(telemetry::Level::kInfo, "exporter/" + id_,
                 "sending EMF to " + client_->endpoint() + " (region " + region + " from " + source + ")");
  return Status::ok();
}

void AwsEmfExporter::shutdown(component::Deadline) {
  if (client_) client_->abort();
}

void AwsEmfExporter::record(const awsemf::TranslateStats& stats) {
  for (const auto& [reason, n] : stats.dropped) {
    dropped_->Add({{"exporter", id_}, {"reason", reason}}).Increment(static_cast<double>(n));
    telemetry::log_limited(telemetry::Level::kWarn, id_ + "/drop/" + reason, id_,
                           "dropped " + std::to_string(n) + " metric points: " + reason);
  }
  for (const auto& [reason, n] : stats.adjusted) {
    adjusted_->Add({{"exporter", id_}, {"reason", reason}}).Increment(static_cast<double>(n));
  }
  baseline_->Increment(static_cast<double>(stats.baseline_points));
  if (stats.folded_points != 0) {
    folded_points_->Increment(static_cast<double>(stats.folded_points));
    telemetry::log_limited(telemetry::Level::kWarn, id_ + "/folded", id_,
                           std::to_string(stats.folded_points) +
                               " metric points folded into otel.overflow: max_series (" +
                               std::to_string(options_.translator.max_series) + ") series this hour reached");
  }
  series_->Set(static_cast<double>(translator_->series_this_hour()));
  folded_series_->Set(static_cast<double>(translator_->folded_series_this_hour()));
}

Status AwsEmfExporter::send(const model::Batch& batch) {
  if (!translator_) return Status::permanent("awsemf exporter " + id_ + ": not started");
  awsemf::TranslateStats stats;
  std::vector<awsemf::Document> docs = translator_->translate(batch, stats);
  if (options_.output_destination == AwsEmfExporterOptions::Destination::kStdout) {
    for (const auto& d : docs) writer_(d.json);
    documents_->Increment(static_cast<double>(docs.size()));
    record(stats);
    return Status::ok();
  }
  const std::size_t n = docs.size();
  Status s = send_cloudwatch(std::move(docs));
  // A retryable failure is translated again on the retry: its drops are counted then, once.
  if (!s.is_retryable()) record(stats);
  if (s.is_ok()) documents_->Increment(static_cast<double>(n));
  return s;
}

Status AwsEmfExporter::send_cloudwatch(std::vector<awsemf::Document>&& docs) {
  if (!client_) return Status::permanent("awsemf exporter " + id_ + ": not started");
  std::map<std::pair<std::string, std::string>, std::vector<aws::LogEvent>> by_stream;
  for (auto& d : docs) {
    by_stream[{d.log_group, d.log_stream}].push_back({d.timestamp_ms, std::move(d.json)});
  }
  bool committed = false;
  Status first_failure;
  for (auto& [where, events] : by_stream) {
    aws::PutOptions po;
    po.committed_before = committed;
    po.hand_back_uncommitted = true;
    aws::PutResult r = client_->put(where.first, where.second, std::move(events), po);
    committed = committed || r.committed;
    if (!r.status.is_ok() && first_failure.is_ok()) first_failure = r.status;
    // Nothing delivered yet: hand the whole batch back to the helper's retry loop.
    if (r.status.is_retryable() && !committed) return r.status;
  }
  // Part of the batch is delivered: a resend would duplicate it (and double CloudWatch's sums),
  // so a failure now is final for the batch (the helper counts it as dropped, not retried).
  if (first_failure.is_retryable()) {
    return Status::permanent("awsemf exporter " + id_ + ": " + first_failure.message() +
                             " (other log streams of the batch were delivered; not resent)");
  }
  return first_failure;
}

// ---- factory -----------------------------------------------------------------------------------

component::Factory awsemf_exporter_factory() {
  using namespace config;
  component::Factory f;
  f.kind = component::Kind::kExporter;
  f.type = kType;
  f.description =
      "Sends metrics to CloudWatch as Embedded Metric Format log events (or prints them on stdout).";
  f.signals = {Signal::kMetrics};
  f.schema = {
      opt_string("namespace", "",
                 "CloudWatch namespace; empty: service.namespace/service.name, else \"default\"."),
      opt_string("log_group_name", "/metrics/default",
                 "Log group; {resource attribute} placeholders allowed."),
      opt_string("log_stream_name", "otel-stream", "Log stream; {resource attribute} placeholders allowed."),
      opt_string("dimension_rollup_option", "ZeroAndSingleDimensionRollup",
                 "Extra dimension sets: none, one per label, or also the set without labels.",
                 {"NoDimensionRollup", "SingleDimensionRollupOnly", "SingleDimensionRollup",
                  "ZeroAndSingleDimensionRollup"}),
      opt_any("metric_declarations", "Rules selecting metrics and their dimension sets (see README.md)."),
      opt_object("resource_to_telemetry_conversion", "Resource attributes as labels.",
                 {opt_bool("enabled", false, "Copy every resource attribute to each point's labels.")}),
      opt_bool(
          "retain_initial_value_of_delta_metric", false,
          "Send the first value of a cumulative series as its delta instead of keeping it as the baseline."),
      opt_string("output_destination", "cloudwatch",
                 "cloudwatch: PutLogEvents; stdout: one EMF document per line.", {"cloudwatch", "stdout"}),
      opt_string("region", "", "AWS region; empty: AWS_REGION, AWS_DEFAULT_REGION, the profile, IMDS."),
      opt_string("endpoint", "", "CloudWatch Logs endpoint URL; empty: https://logs.<region>.amazonaws.com."),
      opt_string("role_arn", "", "IAM role assumed (STS AssumeRole) with the default credentials."),
      opt_int("log_retention", 0, "Retention (days) of a log group the exporter creates; 0: never expire.",
              0),
      opt_string_map("tags", "Tags of a log group the exporter creates (at most 50)."),
      opt_int("max_series", 1000,
              "Distinct metric series (name + dimension values) sent per hour; more are folded into "
              "otel.overflow.",
              1),
  };
  f.validate = [](const Settings& s, const std::string& id, Errors& errors) {
    parse_declarations(s.raw("metric_declarations"), id, &errors);
    for (const char* key : {"log_group_name", "log_stream_name"}) {
      const std::string v = s.get_string(key);
      if (has_placeholder(v)) continue;  // checked once expanded, by CloudWatch
      const std::string why =
          std::string(key) == "log_group_name" ? aws::check_log_group_name(v) : aws::check_log_stream_name(v);
      if (!why.empty()) errors.push_back({s.location(key), id, std::string(key) + ": " + why});
    }
    const std::int64_t retention = s.get_int("log_retention");
    if (retention != 0 && !aws::valid_retention_days(retention)) {
      errors.push_back(
          {s.location("log_retention"), id,
           "log_retention: " + std::to_string(retention) + " is not one of " + aws::retention_days_list()});
    }
    const auto tags = s.get_string_map("tags");
    if (tags.size() > aws::kMaxTags) {
      errors.push_back({s.location("tags"), id, "tags: at most " + std::to_string(aws::kMaxTags) + " tags"});
    }
    for (const auto& [k, v] : tags) {
      const std::string why = aws::check_tag(k, v);
      if (!why.empty()) errors.push_back({s.location("tags"), id, "tags: " + why});
    }
  };
  f.create_exporter = [](const component::CreateSettings& cs, Signal) -> std::unique_ptr<component::Sender> {
    return std::make_unique<AwsEmfExporter>(read_awsemf_exporter_options(cs.settings), cs.id, cs.telemetry);
  };
  return f;
}

}  // namespace vigil::exporters
