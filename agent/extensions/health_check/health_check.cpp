#include "agent/extensions/health_check/health_check.hpp"

#include <utility>

#include "agent/telemetry/log.hpp"

namespace vigil::extensions {

namespace {

constexpr char kType[] = "health_check";

runtime::HttpResponse json_response(unsigned status, std::string body) {
  return runtime::HttpResponse{status, {{"Content-Type", "application/json"}}, std::move(body)};
}

}  // namespace

HealthCheckOptions read_health_check_options(const config::Settings& settings) {
  HealthCheckOptions o;
  o.endpoint = settings.get_string("endpoint");
  o.path = settings.get_string("path");
  return o;
}

HealthCheckExtension::HealthCheckExtension(std::string id, HealthCheckOptions options)
    : id_(std::move(id)), options_(std::move(options)) {}

HealthCheckExtension::~HealthCheckExtension() {
  shutdown(component::Clock::now());
}

component::Status HealthCheckExtension::start(component::Host& host) {
  if (server_) return component::Status::permanent(id_ + ": already started");
  host_.store(&host);
  runtime::HttpServerOptions http;
  http.endpoint = options_.endpoint;
  http.max_body_bytes = 64 * 1024;  // probes send no body
  server_ = std::make_unique<runtime::HttpServer>(host.io_context(), std::move(http),
                                                  [this](runtime::HttpRequest& r) { return handle(r); });
  if (std::string err = server_->start(); !err.empty()) {
    server_.reset();
    return component::Status::permanent(err);
  }
  telemetry::log(telemetry::Level::kInfo, id_,
                 "health check on http://" + options_.endpoint + options_.path + " (port " +
                     std::to_string(server_->port()) + ")");
  return component::Status::ok();
}

void HealthCheckExtension::shutdown(component::Deadline) {
  // stop() waits for a running handler, so host_ is not read after this returns.
  if (server_) server_->stop();
  server_.reset();
  host_.store(nullptr);
}

std::uint16_t HealthCheckExtension::port() const {
  return server_ ? server_->port() : 0;
}

runtime::HttpResponse HealthCheckExtension::handle(const runtime::HttpRequest& request) const {
  if (request.path != options_.path) return json_response(404, R"({"status":"Not found"})");
  if (request.method != "GET") {
    runtime::HttpResponse r = json_response(405, R"({"status":"Method not allowed"})");
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  component::Host* host = host_.load();
  if (host != nullptr && host->pipelines_ready())
    return json_response(200, R"({"status":"Server available"})");
  return json_response(503, R"({"status":"Server not available"})");
}

component::Factory health_check_extension_factory() {
  component::Factory f;
  f.kind = component::Kind::kExtension;
  f.type = kType;
  f.description = "HTTP endpoint answering 200 while every pipeline runs, 503 otherwise.";
  f.schema = {
      config::opt_string("endpoint", "127.0.0.1:13133",
                         "host:port to listen on (\":13133\" listens on every interface)."),
      config::opt_string("path", "/", "URL path that answers the health check."),
  };
  f.validate = [](const config::Settings& settings, const std::string& id, config::Errors& errors) {
    std::string host, error;
    std::uint16_t port = 0;
    if (!runtime::split_endpoint(settings.get_string("endpoint"), host, port, error)) {
      errors.push_back({settings.location("endpoint"), id, error});
    }
    std::string path = settings.get_string("path");
    if (path.empty() || path.front() != '/') {
      errors.push_back({settings.location("path"), id, "path \"" + path + "\" must start with '/'"});
    }
  };
  f.create_extension = [](const component::CreateSettings& cs) -> std::unique_ptr<component::Extension> {
    return std::make_unique<HealthCheckExtension>(cs.id, read_health_check_options(cs.settings));
  };
  return f;
}

}  // namespace vigil::extensions
