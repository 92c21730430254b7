#pragma once
// The units CloudWatch accepts in a metric's Unit (the MetricDatum and EMF `Unit` values), written
// here from AWS's documentation, independent of the awsemf exporter's own mapping so that the
// tests and the fuzzer check it. No doctest: the fuzzers include it too.

#include <set>
#include <string_view>

namespace vigil::testing {

inline const std::set<std::string_view>& cloudwatch_units() {
  static const std::set<std::string_view> units = {
      "Seconds",          "Microseconds",     "Milliseconds",     "Bytes",           "Kilobytes",
      "Megabytes",        "Gigabytes",        "Terabytes",        "Bits",            "Kilobits",
      "Megabits",         "Gigabits",         "Terabits",         "Percent",         "Count",
      "Bytes/Second",     "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
      "Bits/Second",      "Kilobits/Second",  "Megabits/Second",  "Gigabits/Second", "Terabits/Second",
      "Count/Second",     "None"};
  return units;
}

}  // namespace vigil::testing
