#pragma once
// The builders of each operator type, called by build_operators (operators.cpp). Each validates
// its config, reports problems through the OpConfig, and returns nullptr when there were any. A
// builder also updates BuildContext::body_padded to what holds after its operator.

#include <memory>

#include "collectors/filelog/operators/common.hpp"

namespace vigil::collectors::filelog::ops {

std::unique_ptr<Operator> build_json_parser(OpConfig& cfg);
std::unique_ptr<Operator> build_regex_parser(OpConfig& cfg);
std::unique_ptr<Operator> build_time_parser(OpConfig& cfg);
std::unique_ptr<Operator> build_severity_parser(OpConfig& cfg);
std::unique_ptr<Operator> build_trace_parser(OpConfig& cfg);
std::unique_ptr<Operator> build_container(OpConfig& cfg);
std::unique_ptr<Operator> build_recombine(OpConfig& cfg);
std::unique_ptr<Operator> build_move(OpConfig& cfg);
std::unique_ptr<Operator> build_copy(OpConfig& cfg);
std::unique_ptr<Operator> build_add(OpConfig& cfg);
std::unique_ptr<Operator> build_remove(OpConfig& cfg);
std::unique_ptr<Operator> build_retain(OpConfig& cfg);

}  // namespace vigil::collectors::filelog::ops
