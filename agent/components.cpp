#include "agent/components.hpp"

#include "agent/connectors/forward/forward_connector.hpp"
#include "agent/connectors/kpi/kpi_connector.hpp"
#include "agent/extensions/bearertokenauth/bearertokenauth.hpp"
#include "agent/extensions/file_storage/file_storage.hpp"
#include "agent/extensions/health_check/health_check.hpp"
#include "agent/extensions/sigv4auth/sigv4auth.hpp"
#include "agent/processors/batch/batch_processor.hpp"
#include "agent/processors/correlation/correlation_processor.hpp"
#include "agent/processors/memory_limiter/memory_limiter.hpp"
#include "collectors/filelog/filelog_receiver.hpp"
#include "collectors/otlp/otlp_receiver.hpp"
#include "exporters/awscloudwatchlogs/awscloudwatchlogs_exporter.hpp"
#include "exporters/awsemf/awsemf_exporter.hpp"
#include "exporters/debug/debug_exporter.hpp"
#include "exporters/file/file_exporter.hpp"
#include "exporters/nop/nop_exporter.hpp"
#include "exporters/otlp/otlp_exporter.hpp"
#include "exporters/otlphttp/otlphttp_exporter.hpp"

namespace vigil {

std::vector<component::Factory> builtin_factories() {
  return {
      // receivers
      collectors::filelog_receiver_factory(),
      collectors::otlp_receiver_factory(),
      // processors
      processors::batch_processor_factory(),
      processors::correlation_processor_factory(),
      processors::memory_limiter_processor_factory(),
      // exporters
      exporters::awscloudwatchlogs_exporter_factory(),
      exporters::awsemf_exporter_factory(),
      exporters::debug_exporter_factory(),
      exporters::file_exporter_factory(),
      exporters::nop_exporter_factory(),
      exporters::otlp_exporter_factory(),
      exporters::otlphttp_exporter_factory(),
      // connectors
      connectors::forward_connector_factory(),
      connectors::kpi_connector_factory(),
      // extensions
      extensions::bearertokenauth_extension_factory(),
      extensions::file_storage_extension_factory(),
      extensions::health_check_extension_factory(),
      extensions::sigv4auth_extension_factory(),
  };
}

}  // namespace vigil
