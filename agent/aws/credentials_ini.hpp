#pragma once
// The AWS shared files (~/.aws/credentials and ~/.aws/config) as the SDKs read them: INI
// sections of `key = value`. In the credentials file a section is a profile name; in the config
// file `[profile name]` (and `[default]`); other config sections (sso-session, services) are
// skipped. Keys are lower-cased; indented lines under a key with an empty value (nested settings
// such as `s3 =`) are skipped; lines starting with # or ; are comments, and so is the rest of a
// line after " #" or " ;". A later duplicate key or section adds to / replaces the earlier one.
//
// Thread-safety: a pure function.

#include <map>
#include <string>
#include <string_view>

namespace vigil::aws {

using IniProfiles = std::map<std::string, std::map<std::string, std::string>>;

IniProfiles parse_ini_profiles(std::string_view text, bool config_file);

}  // namespace vigil::aws
