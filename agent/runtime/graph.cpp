#include "agent/runtime/graph.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include "agent/telemetry/log.hpp"

namespace vigil::runtime {
namespace {

using component::Factory;
using component::Kind;
using config::Error;
using config::Errors;
using config::Location;
using config::Value;
using model::Signal;

constexpr Signal kAllSignals[] = {Signal::kTraces, Signal::kMetrics, Signal::kLogs};

bool parse_signal(std::string_view text, Signal& out) {
  for (Signal s : kAllSignals) {
    if (text == model::signal_name(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

const char* section_of(Kind k) {
  switch (k) {
    case Kind::kReceiver: return "receivers";
    case Kind::kProcessor: return "processors";
    case Kind::kExporter: return "exporters";
    case Kind::kConnector: return "connectors";
    case Kind::kExtension: return "extensions";
  }
  return "";
}

void add(Errors& errors, const Location& loc, std::string component, std::string message) {
  errors.push_back(Error{loc, std::move(component), std::move(message)});
}

}  // namespace

bool parse_component_id(const std::string& text, ComponentId& out, std::string& error) {
  auto slash = text.find('/');
  out.type = text.substr(0, slash);
  out.name = slash == std::string::npos ? "" : text.substr(slash + 1);
  auto valid_type = [](const std::string& t) {
    if (t.empty()) return false;
    for (char c : t) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    }
    return true;
  };
  if (!valid_type(out.type)) {
    error = "invalid component ID '" + text + "': the type must be letters, digits and '_'";
    return false;
  }
  if (slash != std::string::npos && out.name.empty()) {
    error = "invalid component ID '" + text + "': the name after '/' is empty";
    return false;
  }
  for (char c : out.name) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/') {
      error = "invalid component ID '" + text + "': the name must not contain spaces or '/'";
      return false;
    }
  }
  return true;
}

const config::Schema& service_schema() {
  static const config::Schema schema = {
      config::opt_string_list("extensions", "Extensions to start, by ID."),
      config::opt_any("pipelines", "Pipelines by ID: traces, metrics, logs or <signal>/<name>."),
      config::opt_duration("shutdown_timeout", "10s",
                           "How long SIGTERM may take to drain queues before the rest is dropped (counted).", 0.0,
                           3600.0),
      config::opt_object(
          "telemetry", "The agent's own telemetry.",
          {
              config::opt_object("logs", "The agent's log on stderr.",
                                 {config::opt_string("level", "info", "Lowest level logged.",
                                                     {"debug", "info", "warn", "error"})}),
              config::opt_object("metrics", "Self-metrics in Prometheus exposition format at /metrics.",
                                 {config::opt_string("address", "127.0.0.1:8888",
                                                     "host:port to serve /metrics on; empty or none disables it."),
                                  config::opt_string("level", "normal", "Accepted for Collector compatibility.",
                                                     {"none", "basic", "normal", "detailed"})}),
          }),
  };
  return schema;
}

std::optional<Plan> validate_config(config::Value root, const std::vector<component::Factory>& factories,
                                    config::Errors& errors) {
  const std::size_t errors_before = errors.size();
  Plan plan;
  plan.root = std::move(root);
  const Value& r = plan.root;
  Location top = r.location;
  if (r.is_null()) {
    add(errors, top, "", "the config is empty: it needs at least receivers, exporters and service.pipelines");
    return std::nullopt;
  }
  if (!r.is_map()) {
    add(errors, top, "", std::string("the config must be a map, got a ") + r.kind_name());
    return std::nullopt;
  }
  static const std::vector<std::string> kSections = {"receivers", "processors", "exporters",
                                                     "connectors", "extensions", "service"};
  for (const auto& e : r.entries) {
    if (std::find(kSections.begin(), kSections.end(), e.key) == kSections.end()) {
      add(errors, e.key_location, "", "unknown top-level key '" + e.key + "' (known keys: " + join(kSections) + ")");
    }
  }

  // Components, section by section.
  auto load_section = [&](Kind kind, std::map<std::string, Plan::Component>& out) {
    const Value* section = r.find(section_of(kind));
    if (section == nullptr || section->is_null()) return;
    if (!section->is_map()) {
      add(errors, section->location, section_of(kind), std::string("expected a map, got a ") + section->kind_name());
      return;
    }
    for (const auto& e : section->entries) {
      ComponentId id;
      std::string err;
      if (!parse_component_id(e.key, id, err)) {
        add(errors, e.key_location, e.key, err);
        continue;
      }
      const Factory* factory = nullptr;
      std::vector<std::string> known;
      for (const auto& f : factories) {
        if (f.kind != kind) continue;
        known.push_back(f.type);
        if (f.type == id.type) factory = &f;
      }
      if (factory == nullptr) {
        add(errors, e.key_location, e.key,
            std::string("unknown ") + std::string(component::kind_name(kind)) + " type '" + id.type +
                "' (known types: " + (known.empty() ? std::string("none") : join(known)) + ")");
        continue;
      }
      Plan::Component c;
      c.id = e.key;
      c.factory = factory;
      c.schema = factory->schema;
      if (kind == Kind::kExporter && factory->exporter_queue) {
        c.schema.push_back(sending_queue_option());
        c.schema.push_back(retry_on_failure_option());
      }
      c.node = &e.value;
      c.location = e.key_location;
      const std::size_t before = errors.size();
      config::validate(c.schema, &e.value, e.key_location, e.key, errors);
      if (errors.size() == before && factory->validate) {
        config::Settings settings(&c.schema, &e.value, e.key_location);
        factory->validate(settings, e.key, errors);
      }
      out.emplace(e.key, std::move(c));
    }
  };
  load_section(Kind::kReceiver, plan.receivers);
  load_section(Kind::kProcessor, plan.processors);
  load_section(Kind::kExporter, plan.exporters);
  load_section(Kind::kConnector, plan.connectors);
  load_section(Kind::kExtension, plan.extensions);

  // service
  const Value* service = r.find("service");
  if (service == nullptr || service->is_null()) {
    add(errors, top, "service", "missing 'service' section with at least one pipeline");
    return std::nullopt;
  }
  const std::size_t before_service = errors.size();
  config::validate(service_schema(), service, service->location, "service", errors);
  if (!service->is_map()) return std::nullopt;
  if (errors.size() == before_service) {
    // Only a valid section is read; an invalid one has its errors and the pipelines are still
    // checked below, so one run reports everything.
    config::Settings service_settings(&service_schema(), service, service->location);
    plan.shutdown_timeout = service_settings.get_duration("shutdown_timeout");
    plan.log_level = service_settings.get_string("telemetry.logs.level");
    plan.metrics_address = service_settings.get_string("telemetry.metrics.address");
    plan.service_extensions = service_settings.get_string_list("extensions");
    if (plan.metrics_address == "none") plan.metrics_address.clear();
    if (const Value* exts = service->find("extensions")) {
      std::vector<std::string> seen;
      for (std::size_t i = 0; i < plan.service_extensions.size(); ++i) {
        const std::string& id = plan.service_extensions[i];
        const Location& loc = i < exts->items.size() ? exts->items[i].location : exts->location;
        if (plan.extensions.count(id) == 0) {
          add(errors, loc, "service", "extension '" + id + "' is not defined in extensions");
        } else if (std::find(seen.begin(), seen.end(), id) != seen.end()) {
          add(errors, loc, "service", "extension '" + id + "' is listed twice in service.extensions");
        }
        seen.push_back(id);
      }
    }
  }

  const Value* pipelines = service->find("pipelines");
  if (pipelines == nullptr || pipelines->is_null() || (pipelines->is_map() && pipelines->entries.empty())) {
    add(errors, pipelines ? pipelines->location : service->location, "service",
        "service.pipelines must define at least one pipeline");
    return std::nullopt;
  }
  if (!pipelines->is_map()) {
    add(errors, pipelines->location, "service", std::string("service.pipelines must be a map, got a ") +
                                                    pipelines->kind_name());
    return std::nullopt;
  }

  // Which pipelines use each connector, in which role.
  std::map<std::string, std::set<Signal>> connector_as_exporter, connector_as_receiver;

  for (const auto& pe : pipelines->entries) {
    Plan::Pipeline p;
    p.id = pe.key;
    const std::string pid = "pipeline " + pe.key;
    std::string signal_text = pe.key.substr(0, pe.key.find('/'));
    if (!parse_signal(signal_text, p.signal)) {
      add(errors, pe.key_location, pid,
          "invalid pipeline ID '" + pe.key + "': it must be traces, metrics or logs, optionally followed by /<name>");
      continue;
    }
    if (pe.key.find('/') != std::string::npos && pe.key.size() == signal_text.size() + 1) {
      add(errors, pe.key_location, pid, "invalid pipeline ID '" + pe.key + "': the name after '/' is empty");
      continue;
    }
    if (!pe.value.is_map()) {
      add(errors, pe.value.location, pid, std::string("a pipeline must be a map, got a ") + pe.value.kind_name());
      continue;
    }
    for (const auto& k : pe.value.entries) {
      if (k.key != "receivers" && k.key != "processors" && k.key != "exporters") {
        add(errors, k.key_location, pid, "unknown key '" + k.key + "' (known keys: receivers, processors, exporters)");
      }
    }
    auto read_list = [&](const char* key, std::vector<std::string>& out, bool required) {
      const Value* list = pe.value.find(key);
      if (list == nullptr || list->is_null() || (list->is_seq() && list->items.empty())) {
        if (required) add(errors, list ? list->location : pe.key_location, pid, std::string("'") + key + "' must list at least one component");
        return std::vector<const Value*>{};
      }
      if (!list->is_seq()) {
        add(errors, list->location, pid, std::string("'") + key + "' must be a list of component IDs, got a " + list->kind_name());
        return std::vector<const Value*>{};
      }
      std::vector<const Value*> nodes;
      for (const auto& item : list->items) {
        if (!item.is_scalar()) {
          add(errors, item.location, pid, std::string("'") + key + "' entries must be component IDs");
          continue;
        }
        if (std::find(out.begin(), out.end(), item.scalar) != out.end()) {
          add(errors, item.location, pid, "'" + item.scalar + "' is listed twice in " + key);
          continue;
        }
        out.push_back(item.scalar);
        nodes.push_back(&item);
      }
      return nodes;
    };
    auto signal = std::string(model::signal_name(p.signal));
    for (const Value* n : read_list("receivers", p.receivers, true)) {
      const std::string& id = n->scalar;
      if (auto it = plan.receivers.find(id); it != plan.receivers.end()) {
        if (!it->second.factory->supports(p.signal)) {
          add(errors, n->location, pid, "receiver '" + id + "' does not support " + signal);
        }
      } else if (plan.connectors.count(id) != 0) {
        connector_as_receiver[id].insert(p.signal);
      } else {
        add(errors, n->location, pid, "receiver '" + id + "' is not defined in receivers or connectors");
      }
    }
    for (const Value* n : read_list("processors", p.processors, false)) {
      const std::string& id = n->scalar;
      auto it = plan.processors.find(id);
      if (it == plan.processors.end()) {
        add(errors, n->location, pid, "processor '" + id + "' is not defined in processors");
      } else if (!it->second.factory->supports(p.signal)) {
        add(errors, n->location, pid, "processor '" + id + "' does not support " + signal);
      }
    }
    for (const Value* n : read_list("exporters", p.exporters, true)) {
      const std::string& id = n->scalar;
      if (auto it = plan.exporters.find(id); it != plan.exporters.end()) {
        if (!it->second.factory->supports(p.signal)) {
          add(errors, n->location, pid, "exporter '" + id + "' does not support " + signal);
        }
      } else if (plan.connectors.count(id) != 0) {
        connector_as_exporter[id].insert(p.signal);
      } else {
        add(errors, n->location, pid, "exporter '" + id + "' is not defined in exporters or connectors");
      }
    }
    plan.pipelines.push_back(std::move(p));
  }

  // Connectors: both roles, with a supported signal pair for each use.
  for (const auto& [id, c] : plan.connectors) {
    bool as_exporter = connector_as_exporter.count(id) != 0;
    bool as_receiver = connector_as_receiver.count(id) != 0;
    if (!as_exporter && !as_receiver) continue;  // defined but unused: ignored, like the Collector
    if (!as_receiver) {
      add(errors, c.location, id, "connector is used as an exporter but not as a receiver in any pipeline");
      continue;
    }
    if (!as_exporter) {
      add(errors, c.location, id, "connector is used as a receiver but not as an exporter in any pipeline");
      continue;
    }
    // c is captured through a plain pointer: clang before 16 cannot capture structured bindings.
    const component::Factory* factory = c.factory;
    auto supported = [factory](Signal in, Signal out) {
      for (auto [a, b] : factory->connector_signals) {
        if (a == in && b == out) return true;
      }
      return false;
    };
    for (Signal in : connector_as_exporter[id]) {
      bool ok = false;
      for (Signal out : connector_as_receiver[id]) ok = ok || supported(in, out);
      if (!ok) {
        add(errors, c.location, id, "connector takes " + std::string(model::signal_name(in)) +
                                        " as an exporter but no pipeline receives a signal it can produce from them");
      }
    }
    for (Signal out : connector_as_receiver[id]) {
      bool ok = false;
      for (Signal in : connector_as_exporter[id]) ok = ok || supported(in, out);
      if (!ok) {
        add(errors, c.location, id, "connector feeds " + std::string(model::signal_name(out)) +
                                        " pipelines but no pipeline exports a signal it can turn into them");
      }
    }
  }

  // Cycles through connectors: pipeline A -> connector -> pipeline B -> ... -> A.
  if (errors.size() == errors_before) {
    std::map<std::string, std::vector<std::string>> next;  // pipeline -> pipelines it feeds
    for (const auto& a : plan.pipelines) {
      for (const auto& e : a.exporters) {
        if (plan.connectors.count(e) == 0) continue;
        for (const auto& b : plan.pipelines) {
          if (std::find(b.receivers.begin(), b.receivers.end(), e) != b.receivers.end()) next[a.id].push_back(b.id);
        }
      }
    }
    std::map<std::string, int> state;  // 0 new, 1 on stack, 2 done
    std::vector<std::string> stack;
    bool reported = false;
    std::function<void(const std::string&)> visit = [&](const std::string& id) {
      state[id] = 1;
      stack.push_back(id);
      for (const auto& n : next[id]) {
        if (reported) break;
        if (state[n] == 1) {
          std::string path;
          auto it = std::find(stack.begin(), stack.end(), n);
          for (; it != stack.end(); ++it) path += *it + " -> ";
          path += n;
          add(errors, pipelines->location, "service", "pipelines form a cycle through connectors: " + path);
          reported = true;
        } else if (state[n] == 0) {
          visit(n);
        }
      }
      stack.pop_back();
      state[id] = 2;
    };
    for (const auto& p : plan.pipelines) {
      if (state[p.id] == 0 && !reported) visit(p.id);
    }
  }

  if (errors.size() != errors_before) return std::nullopt;
  return plan;
}

// ---------------------------------------------------------------------------------------------

Graph::~Graph() { shutdown(component::Clock::now() + std::chrono::seconds(5)); }

std::unique_ptr<Graph> Graph::build(const Plan& plan, telemetry::Telemetry& telemetry, std::string& error) {
  std::unique_ptr<Graph> g(new Graph());
  auto settings_for = [&](const Plan::Component& c) -> const config::Settings& {
    g->settings_.push_back(std::make_unique<config::Settings>(&c.schema, c.node, c.location));
    return *g->settings_.back();
  };

  for (const auto& id : plan.service_extensions) {
    const auto& c = plan.extensions.at(id);
    component::CreateSettings cs{id, settings_for(c), telemetry, ""};
    auto ext = c.factory->create_extension ? c.factory->create_extension(cs) : nullptr;
    if (!ext) {
      error = "extension " + id + ": could not be created";
      return nullptr;
    }
    g->extensions_.emplace_back(id, std::move(ext));
  }

  // Exporters, one per (ID, signal).
  std::map<std::pair<std::string, Signal>, component::Consumer*> exporter_of;
  for (const auto& p : plan.pipelines) {
    for (const auto& id : p.exporters) {
      auto it = plan.exporters.find(id);
      if (it == plan.exporters.end() || exporter_of.count({id, p.signal}) != 0) continue;
      const auto& c = it->second;
      const config::Settings& s = settings_for(c);
      component::CreateSettings cs{id, s, telemetry, ""};
      auto sender = c.factory->create_exporter ? c.factory->create_exporter(cs, p.signal) : nullptr;
      if (!sender) {
        error = "exporter " + id + ": could not be created for " + std::string(model::signal_name(p.signal));
        return nullptr;
      }
      QueueSettings q;
      RetrySettings r;
      if (c.factory->exporter_queue) {
        q = read_queue_settings(s);
        r = read_retry_settings(s);
      } else {
        q.enabled = false;
        r.enabled = false;
      }
      g->exporters_.push_back(std::make_unique<ExporterHelper>(id, p.signal, std::move(sender), q, r, telemetry));
      exporter_of[{id, p.signal}] = g->exporters_.back().get();
    }
  }

  // Pipeline heads, built downstream first (connectors need the heads of the pipelines they feed).
  std::map<std::string, component::Consumer*> head_of;
  std::map<std::tuple<std::string, Signal, Signal>, component::Consumer*> connector_of;
  std::function<component::Consumer*(const Plan::Pipeline&)> head;
  auto fanout = [&](std::vector<component::Consumer*> consumers) -> component::Consumer* {
    if (consumers.size() == 1) return consumers[0];
    g->glue_.push_back(std::make_unique<Fanout>(std::move(consumers)));
    return g->glue_.back().get();
  };
  // The consumer that receives from connector `id` producing `out` signal data.
  auto connector_output = [&](const std::string& id, Signal out) {
    std::vector<component::Consumer*> heads;
    for (const auto& q : plan.pipelines) {
      if (q.signal == out && std::find(q.receivers.begin(), q.receivers.end(), id) != q.receivers.end()) {
        heads.push_back(head(q));
        if (heads.back() == nullptr) return static_cast<component::Consumer*>(nullptr);
      }
    }
    return heads.empty() ? nullptr : fanout(std::move(heads));
  };
  head = [&](const Plan::Pipeline& p) -> component::Consumer* {
    if (auto it = head_of.find(p.id); it != head_of.end()) return it->second;
    std::vector<component::Consumer*> outs;
    for (const auto& id : p.exporters) {
      if (auto it = exporter_of.find({id, p.signal}); it != exporter_of.end()) {
        outs.push_back(it->second);
        continue;
      }
      const auto& c = plan.connectors.at(id);
      for (auto [in, out] : c.factory->connector_signals) {
        if (in != p.signal) continue;
        auto key = std::make_tuple(id, in, out);
        if (auto it = connector_of.find(key); it != connector_of.end()) {
          outs.push_back(it->second);
          continue;
        }
        component::Consumer* next = connector_output(id, out);
        if (next == nullptr) continue;  // no pipeline takes this output signal
        component::CreateSettings cs{id, settings_for(c), telemetry, ""};
        auto conn = c.factory->create_connector ? c.factory->create_connector(cs, in, out, *next) : nullptr;
        if (!conn) {
          error = "connector " + id + ": could not be created";
          return nullptr;
        }
        component::Consumer* consumer = conn.get();
        g->middle_.emplace_back("connector " + id, std::move(conn));
        connector_of[key] = consumer;
        outs.push_back(consumer);
      }
    }
    component::Consumer* next = fanout(std::move(outs));
    bool mutates = next->mutates_data();
    for (auto it = p.processors.rbegin(); it != p.processors.rend(); ++it) {
      const auto& c = plan.processors.at(*it);
      component::CreateSettings cs{*it, settings_for(c), telemetry, p.id};
      auto proc = c.factory->create_processor ? c.factory->create_processor(cs, p.signal, *next) : nullptr;
      if (!proc) {
        error = "processor " + *it + ": could not be created for pipeline " + p.id;
        return nullptr;
      }
      next = proc.get();
      mutates = mutates || proc->mutates_data();
      g->middle_.emplace_back("processor " + *it + " in pipeline " + p.id, std::move(proc));
    }
    g->glue_.push_back(std::make_unique<PipelineHead>(next, mutates));
    head_of[p.id] = g->glue_.back().get();
    return head_of[p.id];
  };
  for (const auto& p : plan.pipelines) {
    if (head(p) == nullptr) return nullptr;
  }

  // Receivers, one per ID, fed per signal.
  for (const auto& [id, c] : plan.receivers) {
    component::SignalConsumers next{};
    bool used = false;
    for (Signal s : kAllSignals) {
      std::vector<component::Consumer*> heads;
      for (const auto& p : plan.pipelines) {
        if (p.signal == s && std::find(p.receivers.begin(), p.receivers.end(), id) != p.receivers.end()) {
          heads.push_back(head_of.at(p.id));
        }
      }
      if (!heads.empty()) {
        next[static_cast<std::size_t>(s)] = fanout(std::move(heads));
        used = true;
      }
    }
    if (!used) continue;  // defined but in no pipeline
    component::CreateSettings cs{id, settings_for(c), telemetry, ""};
    auto rcv = c.factory->create_receiver ? c.factory->create_receiver(cs, next) : nullptr;
    if (!rcv) {
      error = "receiver " + id + ": could not be created";
      return nullptr;
    }
    g->receivers_.emplace_back(id, std::move(rcv));
  }
  return g;
}

component::Status Graph::start(component::Host& host) {
  auto fail = [&](const std::string& what, const component::Status& s) {
    // Everything but the exporters stops; shutdown() is safe on what never started. Data the
    // exporters hold stays queued for whoever takes over (a reload's fallback) or drains.
    const auto deadline = component::Clock::now() + std::chrono::seconds(5);
    stop_receivers_and_flush(deadline);
    for (auto it = extensions_.rbegin(); it != extensions_.rend(); ++it) it->second->shutdown(deadline);
    return component::Status::permanent(what + ": " + s.message());
  };
  for (auto& [id, ext] : extensions_) {
    auto s = ext->start(host);
    if (!s.is_ok()) return fail("extension " + id, s);
  }
  for (auto& e : exporters_) {
    auto s = e->start(host);
    if (!s.is_ok()) return fail("exporter " + e->id(), s);
  }
  for (auto& [label, m] : middle_) {
    auto s = m->start(host);
    if (!s.is_ok()) return fail(label, s);
  }
  for (auto& [id, r] : receivers_) {
    auto s = r->start(host);
    if (!s.is_ok()) return fail("receiver " + id, s);
  }
  return component::Status::ok();
}

void Graph::stop_receivers_and_flush(component::Deadline deadline) {
  // From here on the exporters take what is flushed into them even past their queue size and
  // release producers blocked on a full queue, so stopping never waits on a dead backend and
  // never drops what the processors hold: it goes out or is handed over, within the deadline.
  for (auto& e : exporters_) e->begin_drain();
  for (auto& [id, r] : receivers_) r->shutdown(deadline);
  // Upstream first, so flushed data still finds its consumers running.
  for (auto it = middle_.rbegin(); it != middle_.rend(); ++it) it->second->shutdown(deadline);
}

void Graph::shutdown(component::Deadline deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  stop_receivers_and_flush(deadline);
  for (auto& e : exporters_) e->shutdown(deadline);
  for (auto it = extensions_.rbegin(); it != extensions_.rend(); ++it) it->second->shutdown(deadline);
}

void Graph::hand_over(Graph& next, component::Deadline deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  stop_receivers_and_flush(deadline);
  for (auto& e : exporters_) {
    if (ExporterHelper* successor = next.exporter(e->id(), e->signal())) {
      // A batch whose retries are cut short goes back into the hand-over, so a short wait
      // loses nothing and keeps one failing backend from stalling the reload.
      successor->adopt_pending(e->take_pending(std::min(deadline, component::Clock::now() + std::chrono::seconds(1))));
    }
    e->shutdown(deadline);
  }
  for (auto it = extensions_.rbegin(); it != extensions_.rend(); ++it) it->second->shutdown(deadline);
}

component::Extension* Graph::extension(std::string_view id) const {
  for (const auto& [eid, ext] : extensions_) {
    if (eid == id) return ext.get();
  }
  return nullptr;
}

ExporterHelper* Graph::exporter(const std::string& id, model::Signal signal) const {
  for (const auto& e : exporters_) {
    if (e->id() == id && e->signal() == signal) return e.get();
  }
  return nullptr;
}

}  // namespace vigil::runtime
