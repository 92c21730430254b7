#include "agent/config/value.hpp"

namespace vigil::config {

std::string Location::str() const {
  // Errors about a whole file (unreadable, too large) have no line; print just the file then.
  std::string out = file.empty() ? std::string("<config>") : file;
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
    out += ':';
    out += std::to_string(column > 0 ? column : 1);
  }
  return out;
}

std::string Error::str() const {
  std::string out;
  if (!location.file.empty() || location.line > 0) {
    out = location.str();
    out += ": ";
  }
  if (!component.empty()) {
    out += component;
    out += ": ";
  }
  out += message;
  return out;
}

const Value* Value::find(std::string_view key) const {
  if (kind != Kind::kMap) return nullptr;
  for (const Entry& e : entries) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

Value* Value::find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->find(key));
}

const Value* Value::find_path(std::string_view path) const {
  const Value* cur = this;
  while (cur != nullptr) {
    const std::size_t dot = path.find('.');
    cur = cur->find(path.substr(0, dot));
    if (dot == std::string_view::npos) return cur;
    path.remove_prefix(dot + 1);
  }
  return nullptr;
}

const char* Value::kind_name() const {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kScalar: return "scalar";
    case Kind::kMap: return "map";
    case Kind::kSeq: return "sequence";
  }
  return "unknown";
}

}  // namespace vigil::config
