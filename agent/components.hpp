#pragma once
// The one list of every built-in component factory. Adding a component means one line in
// components.cpp (no static registration: it silently breaks with static libraries).

#include <vector>

#include "agent/component/factory.hpp"

namespace vigil {

std::vector<component::Factory> builtin_factories();

}  // namespace vigil
