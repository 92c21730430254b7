#pragma once
// The `kpi` connector (logs and traces in, metrics out): business KPIs from rules over records.
// See README.md.
//
// One instance per (ID, input signal); the instances of an ID share their cumulative state
// (kpi_state.hpp) through Telemetry's shared state, so it also survives a config reload.
// Thread-safety: consume() from any number of threads (the state is locked once per batch);
// start/shutdown from the control thread. Emission runs on each instance's own timer thread.

#include "agent/component/factory.hpp"

namespace vigil::connectors {

component::Factory kpi_connector_factory();

}  // namespace vigil::connectors
