#include "agent/connectors/kpi/kpi_config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <utility>

#include "agent/config/loader.hpp"

namespace vigil::connectors::kpi {
namespace {

using config::Location;
using config::Value;

// Prometheus' default histogram buckets (client_golang DefBuckets).
const std::vector<double> kDefaultBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

const std::vector<std::string> kRuleKeys = {"buckets", "description", "exemplars", "labels", "max_series",
                                            "max_values", "name", "source", "type", "unit", "value", "where"};
const std::vector<std::string> kLabelKeys = {"cases", "default", "from", "max_values", "name"};
const std::vector<std::string> kCaseKeys = {"value", "where"};
const std::vector<std::string> kPackKeys = {"description", "rules"};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

std::string format_double(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, ptr) : std::to_string(v);
}

std::optional<double> parse_number(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<std::int64_t> parse_integer(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

bool valid_label_name(std::string_view name) {
  // Attribute names may hold dots (`k8s.namespace.name`); exporters to Prometheus turn them into
  // underscores. A leading "__" is reserved by Prometheus.
  if (name.empty() || name.size() > 255) return false;
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') return false;
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(name[0])) return false;
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '.') return false;
  }
  return true;
}

// Parses rules into a KpiConfig. One instance per parse; collects every error.
class Parser {
 public:
  Parser(const std::string& id, config::Errors& errors, KpiConfig& out) : id_(id), errors_(errors), out_(out) {}

  void parse_rules(const Value& node, const std::string& path) {
    if (node.is_null()) return;
    if (!node.is_seq()) {
      error(node.location, "'" + path + "': expected a list of rules, got a " + node.kind_name());
      return;
    }
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      parse_rule(node.items[i], path + "[" + std::to_string(i) + "]");
    }
  }

  void parse_pack(const Value& pack_ref) {
    if (!pack_ref.is_scalar()) return;  // the schema reported it
    const std::string name = pack_ref.scalar;
    const std::string_view text = pack_text(name);
    if (text.empty()) {
      error(pack_ref.location, "unknown pack '" + name + "' (known packs: " + join(pack_names()) + ")");
      return;
    }
    config::Errors pack_errors;
    const std::string file = "<pack " + name + ">";
    Value root = config::parse_yaml(text, file, pack_errors);
    for (auto& e : pack_errors) {
      e.component = id_;
      errors_.push_back(std::move(e));
    }
    if (!pack_errors.empty()) return;
    if (!root.is_map()) {
      error(root.location, "pack '" + name + "': expected a map with 'rules'");
      return;
    }
    for (const Value::Entry& e : root.entries) {
      if (std::find(kPackKeys.begin(), kPackKeys.end(), e.key) == kPackKeys.end()) {
        error(e.key_location, "unknown key '" + e.key + "' in pack '" + name + "'");
      }
    }
    if (const Value* rules = root.find("rules")) parse_rules(*rules, "pack " + name + ": rules");
  }

  // Names of self-metrics: rules that share a metric name are told apart by source (and by
  // position when two share a source too).
  void name_rules() {
    std::map<std::string, std::vector<std::size_t>> by_name;
    for (std::size_t i = 0; i < out_.rules.size(); ++i) by_name[out_.rules[i].metric].push_back(i);
    for (auto& [name, indexes] : by_name) {
      if (indexes.size() == 1) {
        out_.rules[indexes[0]].self_name = name;
        continue;
      }
      std::map<Source, std::size_t> per_source;
      for (std::size_t i : indexes) ++per_source[out_.rules[i].source];
      std::map<Source, std::size_t> seen;
      for (std::size_t i : indexes) {
        Rule& r = out_.rules[i];
        r.self_name = name + "/" + std::string(source_name(r.source));
        if (per_source[r.source] > 1) r.self_name += "/" + std::to_string(++seen[r.source]);
      }
    }
  }

 private:
  void error(const Location& where, std::string message) {
    errors_.push_back(config::Error{where, id_, std::move(message)});
  }

  void unknown_keys(const Value& map, const std::vector<std::string>& known, const std::string& path) {
    for (const Value::Entry& e : map.entries) {
      if (std::find(known.begin(), known.end(), e.key) == known.end()) {
        error(e.key_location, "unknown key '" + e.key + "' in '" + path + "' (known keys: " + join(known) + ")");
      }
    }
  }

  // A scalar text option; nullptr (after an error) when present but not a scalar.
  const Value* scalar(const Value& map, std::string_view key, const std::string& path) {
    const Value* v = map.find(key);
    if (v == nullptr || v->is_null()) return nullptr;
    if (!v->is_scalar()) {
      error(v->location, "'" + path + "." + std::string(key) + "': expected a string, got a " + v->kind_name());
      return nullptr;
    }
    return v;
  }

  std::optional<std::size_t> positive_int(const Value& map, std::string_view key, const std::string& path) {
    const Value* v = map.find(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    const std::string name = "'" + path + "." + std::string(key) + "': ";
    if (!v->is_scalar() || v->quoted) {
      error(v->location, name + "expected a positive integer");
      return std::nullopt;
    }
    const auto n = parse_integer(v->scalar);
    if (!n || *n < 1) {
      error(v->location, name + "expected a positive integer, got '" + v->scalar + "'");
      return std::nullopt;
    }
    return static_cast<std::size_t>(*n);
  }

  std::unique_ptr<ottl::Expression> compile(const Value& v, ottl::Context context, const std::string& path,
                                            const char* what) {
    if (!v.is_scalar()) {
      error(v.location, "'" + path + "': expected " + what + " (OTTL text), got a " + v.kind_name());
      return nullptr;
    }
    if (v.scalar.empty()) {
      error(v.location, "'" + path + "': empty " + what);
      return nullptr;
    }
    const std::size_t before = errors_.size();
    auto e = ottl::Expression::compile(v.scalar, context, v.location, id_, errors_);
    if (!e && errors_.size() == before) error(v.location, "'" + path + "': cannot compile '" + v.scalar + "'");
    return e;
  }

  void parse_rule(const Value& node, const std::string& path) {
    if (!node.is_map()) {
      error(node.location, "'" + path + "': expected a map (a rule), got a " + node.kind_name());
      return;
    }
    const std::size_t errors_before = errors_.size();
    unknown_keys(node, kRuleKeys, path);
    Rule rule;
    MetricDef def;
    rule.location = node.location;

    const Value* name = node.find("name");
    if (name == nullptr || name->is_null()) {
      error(node.location, "'" + path + "': missing required option 'name' (the metric name)");
    } else if (!name->is_scalar()) {
      error(name->location, "'" + path + ".name': expected a string, got a " + name->kind_name());
      name = nullptr;
    } else if (!valid_metric_name(name->scalar)) {
      error(name->location, "'" + path + ".name': '" + name->scalar +
                                "' is not a valid metric name (letters, digits and '_', not starting with a "
                                "digit or '__', at most 255 characters)");
    } else {
      rule.metric = name->scalar;
      def.name = name->scalar;
      def.location = name->location;
    }
    if (const Value* v = scalar(node, "description", path)) def.description = v->scalar;
    if (const Value* v = scalar(node, "unit", path)) def.unit = v->scalar;
    if (const Value* v = scalar(node, "type", path)) {
      if (v->scalar == "counter") def.kind = MetricKind::kCounter;
      else if (v->scalar == "gauge") def.kind = MetricKind::kGauge;
      else if (v->scalar == "histogram") def.kind = MetricKind::kHistogram;
      else error(v->location, "'" + path + ".type': '" + v->scalar + "' is not one of counter, gauge, histogram");
    }
    if (const Value* v = scalar(node, "source", path)) {
      if (v->scalar == "logs") rule.source = Source::kLogs;
      else if (v->scalar == "spans") rule.source = Source::kSpans;
      else error(v->location, "'" + path + ".source': '" + v->scalar + "' is not one of logs, spans");
    }
    const ottl::Context context = rule.source == Source::kLogs ? ottl::Context::kLog : ottl::Context::kSpan;

    if (const Value* b = node.find("buckets"); b != nullptr && !b->is_null()) {
      if (def.kind != MetricKind::kHistogram) {
        error(b->location, "'" + path + ".buckets': only histograms have buckets");
      } else {
        parse_buckets(*b, path + ".buckets", def.bounds);
      }
    } else if (def.kind == MetricKind::kHistogram) {
      def.bounds = kDefaultBuckets;
    }

    if (const Value* w = node.find("where"); w != nullptr && !w->is_null()) {
      rule.where = compile(*w, context, path + ".where", "a condition");
    }
    if (const Value* v = node.find("value"); v != nullptr && !v->is_null()) {
      rule.value = compile(*v, context, path + ".value", "a value expression");
      def.int_sum = false;
    } else if (def.kind != MetricKind::kCounter) {
      error(node.location, "'" + path + "': a " + std::string(metric_kind_name(def.kind)) +
                               " needs a 'value' (counters count 1 per record without one)");
    }
    if (def.kind != MetricKind::kCounter) def.int_sum = false;

    const std::size_t rule_max_values = positive_int(node, "max_values", path).value_or(kDefaultMaxValues);
    def.max_series = positive_int(node, "max_series", path).value_or(kDefaultMaxSeries);
    if (const Value* v = node.find("exemplars"); v != nullptr && !v->is_null()) {
      if (v->is_scalar() && !v->quoted && (v->scalar == "true" || v->scalar == "false")) {
        rule.exemplars = v->scalar == "true";
      } else {
        error(v->location, "'" + path + ".exemplars': expected true or false");
      }
    }

    if (const Value* labels = node.find("labels"); labels != nullptr && !labels->is_null()) {
      if (!labels->is_seq()) {
        error(labels->location, "'" + path + ".labels': expected a list, got a " + labels->kind_name());
      } else {
        if (labels->items.size() > kMaxLabels) {
          error(labels->location, "'" + path + ".labels': at most " + std::to_string(kMaxLabels) +
                                      " labels per metric (each label multiplies the series)");
        }
        for (std::size_t i = 0; i < labels->items.size(); ++i) {
          parse_label(labels->items[i], path + ".labels[" + std::to_string(i) + "]", context, rule_max_values,
                      rule.labels);
        }
      }
    }
    for (const LabelRule& l : rule.labels) {
      def.label_names.push_back(l.name);
      def.label_max_values.push_back(l.max_values);
    }
    if (errors_.size() != errors_before || name == nullptr) return;
    merge(std::move(rule), std::move(def));
  }

  void parse_buckets(const Value& b, const std::string& path, std::vector<double>& bounds) {
    if (!b.is_seq() || b.items.empty()) {
      error(b.location, "'" + path + "': expected a non-empty list of increasing numbers");
      return;
    }
    for (std::size_t i = 0; i < b.items.size(); ++i) {
      const Value& item = b.items[i];
      const auto n = item.is_scalar() && !item.quoted ? parse_number(item.scalar) : std::nullopt;
      if (!n) {
        error(item.location, "'" + path + "[" + std::to_string(i) + "]': expected a finite number");
        return;
      }
      if (!bounds.empty() && *n <= bounds.back()) {
        error(item.location, "'" + path + "': bounds must be strictly increasing (" + format_double(*n) +
                                 " follows " + format_double(bounds.back()) + ")");
        return;
      }
      bounds.push_back(*n);
    }
  }

  void parse_label(const Value& node, const std::string& path, ottl::Context context, std::size_t max_values,
                   std::vector<LabelRule>& out) {
    LabelRule label;
    label.max_values = max_values;
    Location name_location = node.location;
    if (node.is_scalar()) {
      label.name = node.scalar;
      label.short_form = true;
    } else if (node.is_map()) {
      unknown_keys(node, kLabelKeys, path);
      const Value* name = scalar(node, "name", path);
      if (name == nullptr) {
        if (node.find("name") == nullptr) error(node.location, "'" + path + "': missing required option 'name'");
        return;
      }
      label.name = name->scalar;
      name_location = name->location;
      if (const Value* f = node.find("from"); f != nullptr && !f->is_null()) {
        label.from = compile(*f, context, path + ".from", "a value expression");
      }
      if (const Value* d = scalar(node, "default", path)) label.default_value = d->scalar;
      label.max_values = positive_int(node, "max_values", path).value_or(max_values);
      if (const Value* cases = node.find("cases"); cases != nullptr && !cases->is_null()) {
        if (!cases->is_seq()) {
          error(cases->location, "'" + path + ".cases': expected a list of {where, value}");
        } else {
          for (std::size_t i = 0; i < cases->items.size(); ++i) {
            parse_case(cases->items[i], path + ".cases[" + std::to_string(i) + "]", context, label.cases);
          }
        }
      }
      if (node.find("from") == nullptr && node.find("cases") == nullptr && node.find("default") == nullptr) {
        error(node.location, "'" + path + "': a label needs 'from', 'cases' or 'default'");
      }
    } else {
      error(node.location, "'" + path + "': expected an attribute name or a map, got a " + node.kind_name());
      return;
    }
    if (!valid_label_name(label.name)) {
      error(name_location, "'" + path + "': '" + label.name +
                               "' is not a valid label name (letters, digits, '_' and '.', not starting with a "
                               "digit or '__')");
      return;
    }
    for (const LabelRule& other : out) {
      if (other.name == label.name) {
        error(name_location, "'" + path + "': label '" + label.name + "' appears twice");
        return;
      }
    }
    out.push_back(std::move(label));
  }

  void parse_case(const Value& node, const std::string& path, ottl::Context context, std::vector<LabelCase>& out) {
    if (!node.is_map()) {
      error(node.location, "'" + path + "': expected a map {where, value}, got a " + node.kind_name());
      return;
    }
    unknown_keys(node, kCaseKeys, path);
    LabelCase c;
    const Value* where = node.find("where");
    const Value* value = scalar(node, "value", path);
    if (where == nullptr || where->is_null()) {
      error(node.location, "'" + path + "': missing required option 'where'");
    } else {
      c.where = compile(*where, context, path + ".where", "a condition");
    }
    if (value == nullptr) {
      if (node.find("value") == nullptr) error(node.location, "'" + path + "': missing required option 'value'");
      return;
    }
    c.value = value->scalar;
    if (c.where) out.push_back(std::move(c));
  }

  // Adds the rule; rules that share a name must agree on what makes the series.
  void merge(Rule&& rule, MetricDef&& def) {
    auto it = std::find_if(out_.metrics.begin(), out_.metrics.end(),
                           [&](const MetricDef& m) { return m.name == def.name; });
    if (it == out_.metrics.end()) {
      rule.metric_index = out_.metrics.size();
      out_.metrics.push_back(std::move(def));
      out_.rules.push_back(std::move(rule));
      return;
    }
    MetricDef& m = *it;
    std::vector<std::string> diffs;
    if (m.kind != def.kind) {
      diffs.push_back("type " + std::string(metric_kind_name(def.kind)) + " vs " +
                      std::string(metric_kind_name(m.kind)));
    }
    if (m.unit != def.unit) diffs.push_back("unit '" + def.unit + "' vs '" + m.unit + "'");
    if (m.bounds != def.bounds) diffs.push_back("buckets");
    if (m.label_names != def.label_names) {
      diffs.push_back("labels [" + join(def.label_names) + "] vs [" + join(m.label_names) + "]");
    } else if (m.label_max_values != def.label_max_values) {
      diffs.push_back("max_values");
    }
    if (m.max_series != def.max_series) diffs.push_back("max_series");
    if (!diffs.empty()) {
      error(def.location, "metric '" + def.name + "' is also defined by the rule at " + m.location.str() +
                              "; rules that share a name must agree on type, unit, buckets, labels, max_values "
                              "and max_series (differs: " + join(diffs) + ")");
      return;
    }
    if (m.description.empty()) m.description = def.description;
    m.int_sum = m.int_sum && def.int_sum;
    rule.metric_index = static_cast<std::size_t>(it - out_.metrics.begin());
    out_.rules.push_back(std::move(rule));
  }

  const std::string& id_;
  config::Errors& errors_;
  KpiConfig& out_;
};

}  // namespace

std::string_view metric_kind_name(MetricKind k) {
  switch (k) {
    case MetricKind::kCounter: return "counter";
    case MetricKind::kGauge: return "gauge";
    case MetricKind::kHistogram: return "histogram";
  }
  return "counter";
}

std::string_view source_name(Source s) { return s == Source::kLogs ? "logs" : "spans"; }

bool valid_metric_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') return false;
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(name[0])) return false;
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string MetricDef::key(const std::vector<std::string>& resource_attributes) const {
  // Fields separated by characters that cannot occur in names; numbers in shortest round-trip form.
  std::string k = name;
  k += '\x1f';
  k += metric_kind_name(kind);
  k += int_sum ? ":int" : ":double";
  k += '\x1f';
  k += unit;
  k += '\x1f';
  for (const std::string& l : label_names) (k += l) += '\x1e';
  k += '\x1f';
  for (double b : bounds) (k += format_double(b)) += '\x1e';
  k += '\x1f';
  for (const std::string& r : resource_attributes) (k += r) += '\x1e';
  return k;
}

std::vector<std::string> default_resource_attributes() {
  return {"service.name", "service.namespace", "deployment.environment", "deployment.environment.name"};
}

config::Schema kpi_schema() {
  config::Option resource_attributes = config::opt_string_list(
      "resource_attributes",
      "Input resource attributes that are part of a series' identity and of the output resource.");
  std::string def;
  for (const std::string& a : default_resource_attributes()) def += (def.empty() ? "" : ",") + a;
  resource_attributes.default_value = def;  // Settings reads a list default comma-separated
  return {
      config::opt_duration("interval", "10s",
                           "How often the cumulative values of every series are emitted.", 0.01),
      config::opt_string_list("packs", "Shipped rule sets to load (only 'default' exists)."),
      config::opt_any("rules", "The user's own rules (see README.md)."),
      resource_attributes,
  };
}

std::unique_ptr<KpiConfig> parse_kpi_config(const config::Settings& settings, const std::string& id,
                                            config::Errors& errors) {
  auto out = std::make_unique<KpiConfig>();
  const std::size_t before = errors.size();
  out->interval = settings.get_duration("interval");
  out->resource_attributes = settings.get_string_list("resource_attributes");
  if (out->resource_attributes.size() > kMaxResourceAttributes) {
    errors.push_back({settings.location("resource_attributes"), id,
                      "'resource_attributes': at most " + std::to_string(kMaxResourceAttributes) + " attributes"});
  }
  for (std::size_t i = 0; i < out->resource_attributes.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (out->resource_attributes[i] == out->resource_attributes[j]) {
        errors.push_back({settings.location("resource_attributes"), id,
                          "'resource_attributes': '" + out->resource_attributes[i] + "' appears twice"});
      }
    }
  }
  Parser parser(id, errors, *out);
  if (const config::Value* packs = settings.raw("packs"); packs != nullptr && packs->is_seq()) {
    for (std::size_t i = 0; i < packs->items.size(); ++i) {
      const config::Value& p = packs->items[i];
      bool repeated = false;
      for (std::size_t j = 0; j < i; ++j) repeated = repeated || packs->items[j].scalar == p.scalar;
      if (repeated) {
        errors.push_back({p.location, id, "'packs': pack '" + p.scalar + "' is listed twice"});
        continue;
      }
      parser.parse_pack(p);
    }
  }
  if (const config::Value* rules = settings.raw("rules")) parser.parse_rules(*rules, "rules");
  parser.name_rules();
  if (errors.size() != before) return nullptr;
  return out;
}

}  // namespace vigil::connectors::kpi
