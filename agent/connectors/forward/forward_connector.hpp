#pragma once
// The `forward` connector (as in the Collector): passes data from the pipelines that export to
// it on to the pipelines that receive from it, same signal. Joins and splits pipelines.

#include "agent/component/factory.hpp"

namespace vigil::connectors {

component::Factory forward_connector_factory();

}  // namespace vigil::connectors
