#include "agent/telemetry/telemetry.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace vigil::telemetry {
namespace {

std::string item_name(model::Signal s) { return std::string(model::signal_item_name(s)); }

}  // namespace

prometheus::Counter& ExporterMetrics::send_failed(std::string_view reason) {
  auto labels = labels_;
  labels["reason"] = std::string(reason);
  return send_failed_family_->Add(labels);
}

prometheus::Counter& ExporterMetrics::enqueue_failed(std::string_view reason) {
  auto labels = labels_;
  labels["reason"] = std::string(reason);
  return enqueue_failed_family_->Add(labels);
}

prometheus::Counter& ProcessorMetrics::dropped(std::string_view reason) {
  auto labels = labels_;
  labels["reason"] = std::string(reason);
  return dropped_family_->Add(labels);
}

prometheus::Counter& ProcessorMetrics::refused(std::string_view reason) {
  auto labels = labels_;
  labels["reason"] = std::string(reason);
  return refused_family_->Add(labels);
}

Telemetry::Telemetry() : registry_(std::make_shared<prometheus::Registry>()) {
  gauge_family("vigil_build_info", "Vigil build information; the value is always 1.")
      .Add({{"version", VIGIL_VERSION}})
      .Set(1);
  cpu_seconds_ = &counter_family("vigil_process_cpu_seconds_total", "CPU time used by the agent (user + system).").Add({});
  rss_bytes_ = &gauge_family("vigil_process_resident_memory_bytes", "Resident memory of the agent.").Add({});
}

prometheus::Family<prometheus::Counter>& Telemetry::counter_family(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  auto it = counters_.find(name);
  if (it != counters_.end()) return *it->second;
  auto& family = prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  counters_.emplace(name, &family);
  return family;
}

prometheus::Family<prometheus::Gauge>& Telemetry::gauge_family(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  auto it = gauges_.find(name);
  if (it != gauges_.end()) return *it->second;
  auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  gauges_.emplace(name, &family);
  return family;
}

ReceiverMetrics Telemetry::receiver(std::string_view id, model::Signal signal, std::string_view transport) {
  std::string items = item_name(signal);
  std::map<std::string, std::string> labels{{"receiver", std::string(id)}, {"transport", std::string(transport)}};
  ReceiverMetrics m;
  m.accepted = &counter_family("vigil_receiver_accepted_" + items + "_total",
                               "Items the receiver accepted into the pipeline.")
                    .Add(labels);
  m.refused = &counter_family("vigil_receiver_refused_" + items + "_total",
                              "Items the receiver could not push into the pipeline (refused to the client).")
                   .Add(labels);
  return m;
}

ExporterMetrics Telemetry::exporter(std::string_view id, model::Signal signal) {
  std::string items = item_name(signal);
  ExporterMetrics m;
  m.labels_ = {{"exporter", std::string(id)}};
  std::map<std::string, std::string> queue_labels{{"exporter", std::string(id)},
                                                  {"data_type", std::string(model::signal_name(signal))}};
  m.sent = &counter_family("vigil_exporter_sent_" + items + "_total", "Items the exporter sent successfully.")
                .Add(m.labels_);
  m.send_failed_family_ = &counter_family("vigil_exporter_send_failed_" + items + "_total",
                                          "Items the exporter failed to send and dropped, by reason.");
  m.enqueue_failed_family_ = &counter_family("vigil_exporter_enqueue_failed_" + items + "_total",
                                             "Items refused by the exporter's sending queue, by reason.");
  m.queue_size = &gauge_family("vigil_exporter_queue_size", "Batches in the exporter's sending queue.").Add(queue_labels);
  m.queue_capacity =
      &gauge_family("vigil_exporter_queue_capacity", "Capacity of the exporter's sending queue, in batches.")
           .Add(queue_labels);
  return m;
}

ProcessorMetrics Telemetry::processor(std::string_view id, model::Signal signal, std::string_view pipeline) {
  std::string items = item_name(signal);
  ProcessorMetrics m;
  m.labels_ = {{"processor", std::string(id)}, {"pipeline", std::string(pipeline)}};
  m.dropped_family_ =
      &counter_family("vigil_processor_dropped_" + items + "_total", "Items the processor dropped, by reason.");
  m.refused_family_ = &counter_family("vigil_processor_refused_" + items + "_total",
                                      "Items the processor refused with a retryable error, by reason.");
  return m;
}

void Telemetry::update_process_metrics() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    double seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    std::lock_guard lock(mu_);
    double delta = seconds - cpu_seconds_->Value();
    if (delta > 0) cpu_seconds_->Increment(delta);
  }
  rss_bytes_->Set(static_cast<double>(resident_memory_bytes()));
}

std::size_t resident_memory_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace vigil::telemetry
