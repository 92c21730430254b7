// build_operators: the `operators:` list -> a chain's operators, and the list of types Vigil has.
#include <algorithm>
#include <array>
#include <set>

#include "collectors/filelog/operators/internal.hpp"
#include "collectors/filelog/operators/operator.hpp"

namespace vigil::collectors::filelog {
namespace {

using Builder = std::unique_ptr<Operator> (*)(ops::OpConfig&);

struct Type {
  std::string_view name;
  Builder build;
};

constexpr std::array<Type, 12> kTypes = {{
    {"add", ops::build_add},
    {"container", ops::build_container},
    {"copy", ops::build_copy},
    {"json_parser", ops::build_json_parser},
    {"move", ops::build_move},
    {"recombine", ops::build_recombine},
    {"regex_parser", ops::build_regex_parser},
    {"remove", ops::build_remove},
    {"retain", ops::build_retain},
    {"severity_parser", ops::build_severity_parser},
    {"time_parser", ops::build_time_parser},
    {"trace_parser", ops::build_trace_parser},
}};

// Operators of the Collector that Vigil does not have, for a clearer message.
constexpr std::array<std::string_view, 22> kCollectorOnly = {"router",
                                                             "filter",
                                                             "noop",
                                                             "flatten",
                                                             "regex_replace",
                                                             "key_value_parser",
                                                             "csv_parser",
                                                             "syslog_parser",
                                                             "uri_parser",
                                                             "json_array_parser",
                                                             "scope_name_parser",
                                                             "unquote",
                                                             "assign_keys",
                                                             "sanitize",
                                                             "sanitize_utf8",
                                                             "strip_ansi_escape_codes",
                                                             "headerless_jarray_parser",
                                                             "file_input",
                                                             "stdout",
                                                             "stdin",
                                                             "file_output",
                                                             "otelcol"};

std::string type_list() {
  std::string out;
  for (const std::string& t : operator_types()) {
    if (!out.empty()) out += ", ";
    out += t;
  }
  return out;
}

}  // namespace

const std::vector<std::string>& operator_types() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const Type& t : kTypes) names.emplace_back(t.name);
    return names;
  }();
  return kNames;
}

std::vector<std::unique_ptr<Operator>> build_operators(const config::Value* operators,
                                                       const std::string& component_id,
                                                       config::Errors& errors) {
  std::vector<std::unique_ptr<Operator>> out;
  if (operators == nullptr || operators->is_null()) return out;
  if (!operators->is_seq()) {
    errors.push_back(
        config::Error{operators->location, component_id,
                      std::string("'operators' must be a list, got a ") + operators->kind_name()});
    return out;
  }
  const std::size_t errors_before = errors.size();
  ops::BuildContext bc{component_id, errors};
  std::set<std::string> ids;
  for (std::size_t i = 0; i < operators->items.size(); ++i) {
    const config::Value& item = operators->items[i];
    const std::string where = "operators[" + std::to_string(i) + "]: ";
    if (!item.is_map()) {
      errors.push_back(config::Error{item.location, component_id,
                                     where + "expected a map with a 'type', got a " + item.kind_name()});
      continue;
    }
    const config::Value* type = item.find("type");
    if (type == nullptr || !type->is_scalar() || type->scalar.empty()) {
      errors.push_back(config::Error{type != nullptr ? type->location : item.location, component_id,
                                     where + "missing 'type' (one of " + type_list() + ")"});
      continue;
    }
    const auto it =
        std::find_if(kTypes.begin(), kTypes.end(), [&](const Type& t) { return t.name == type->scalar; });
    if (it == kTypes.end()) {
      const bool collector =
          std::find(kCollectorOnly.begin(), kCollectorOnly.end(), type->scalar) != kCollectorOnly.end();
      errors.push_back(config::Error{type->location, component_id,
                                     where + "unknown operator type '" + type->scalar + "'" +
                                         (collector ? " (a Collector operator Vigil does not have)" : "") +
                                         "; Vigil has: " + type_list()});
      continue;
    }
    std::string id = type->scalar;
    if (const config::Value* given = item.find("id");
        given != nullptr && given->is_scalar() && !given->scalar.empty()) {
      id = given->scalar;
    }
    if (!ids.insert(id).second) {
      const config::Value* given = item.find("id");
      errors.push_back(config::Error{
          given != nullptr ? given->location : item.location, component_id,
          where + "duplicate operator id '" + id + "' (give operators of the same type an `id` each)"});
    }
    ops::OpConfig cfg(item, i, type->scalar, id, bc);
    if (auto op = it->build(cfg)) out.push_back(std::move(op));
  }
  if (errors.size() != errors_before) out.clear();
  return out;
}

}  // namespace vigil::collectors::filelog
