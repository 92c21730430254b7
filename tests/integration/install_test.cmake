# Checks the install contract: `cmake --install` lays out bin/vigil, etc/vigil/vigil.yaml,
# share/vigil/dashboards/, share/vigil/alerts/ and the systemd unit, and the installed binary
# accepts the installed config. Run as: cmake -DBUILD_DIR=... -DPREFIX=... -P install_test.cmake
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
foreach(path bin/vigil etc/vigil/vigil.yaml share/vigil/dashboards share/vigil/alerts
             lib/systemd/system/vigil.service)
  if(NOT EXISTS ${PREFIX}/${path})
    message(FATAL_ERROR "missing after install: ${path}")
  endif()
endforeach()
execute_process(COMMAND ${PREFIX}/bin/vigil validate --config ${PREFIX}/etc/vigil/vigil.yaml
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the installed config does not validate: ${out}${err}")
endif()
file(REMOVE_RECURSE ${PREFIX})
message(STATUS "install layout ok")
