#pragma once
// health_check extension: an HTTP endpoint that load balancers and Kubernetes probes poll.
// GET <path> answers 200 {"status":"Server available"} while every pipeline runs
// (Host::pipelines_ready()), 503 {"status":"Server not available"} otherwise. Option names and
// defaults are the Collector's (extension/healthcheckextension).
//
// Ownership: the extension owns its HTTP server; the Host passed to start() must outlive
// shutdown(). Thread-safety: start/shutdown from the control thread; requests are answered on
// io_context worker threads.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "agent/component/factory.hpp"
#include "agent/runtime/http_server.hpp"

namespace vigil::extensions {

struct HealthCheckOptions {
  std::string endpoint = "127.0.0.1:13133";
  std::string path = "/";
};

HealthCheckOptions read_health_check_options(const config::Settings& settings);

class HealthCheckExtension : public component::Extension {
 public:
  HealthCheckExtension(std::string id, HealthCheckOptions options);
  ~HealthCheckExtension() override;

  component::Status start(component::Host& host) override;
  void shutdown(component::Deadline deadline) override;

  // The bound port (after start); useful when the endpoint asks for port 0.
  std::uint16_t port() const;
  // Answers one request (the HTTP server's handler; public for tests).
  runtime::HttpResponse handle(const runtime::HttpRequest& request) const;

 private:
  std::string id_;
  HealthCheckOptions options_;
  std::atomic<component::Host*> host_{nullptr};
  std::unique_ptr<runtime::HttpServer> server_;
};

component::Factory health_check_extension_factory();

}  // namespace vigil::extensions
