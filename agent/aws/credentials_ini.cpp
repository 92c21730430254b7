#include "agent/aws/credentials_ini.hpp"

#include <cctype>

namespace vigil::aws {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The value without a trailing comment (" #..." or " ;...").
std::string_view strip_comment(std::string_view v) {
  for (std::size_t i = 1; i < v.size(); ++i) {
    if ((v[i] == '#' || v[i] == ';') && std::isspace(static_cast<unsigned char>(v[i - 1]))) return v.substr(0, i);
  }
  return v;
}

}  // namespace

IniProfiles parse_ini_profiles(std::string_view text, bool config_file) {
  IniProfiles out;
  std::map<std::string, std::string>* section = nullptr;
  bool nested = false;  // inside the indented block of a key with an empty value
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    const bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;

    if (line.front() == '[') {
      nested = false;
      const std::size_t close = line.find(']');
      std::string_view name = trim(line.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
      section = nullptr;
      if (config_file) {
        if (name.substr(0, 7) == "profile" && name.size() > 7 && std::isspace(static_cast<unsigned char>(name[7]))) {
          name = trim(name.substr(8));
        } else if (name != "default") {
          continue;  // sso-session, services, or a bare name (not a profile in the config file)
        }
      }
      if (!name.empty()) section = &out[std::string(name)];
      continue;
    }
    if (section == nullptr) continue;
    if (indented && nested) continue;
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string key = lower(trim(line.substr(0, eq)));
    const std::string_view value = trim(strip_comment(trim(line.substr(eq + 1))));
    nested = value.empty();
    if (key.empty() || nested) continue;
    (*section)[key] = std::string(value);
  }
  return out;
}

}  // namespace vigil::aws
