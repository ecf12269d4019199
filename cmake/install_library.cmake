# qatc as a library (cmake --install): the import, lowering, simulators and target descriptions,
# with their headers, as the CMake package `qatc` for C++ programs and tests of the user's own —
# find_package(qatc) and link qatc::qatc_frontend, qatc::qatc_passes, qatc::qatc_sim.
# Code generation (Halide) stays inside the qatc driver.
include(CMakePackageConfigHelpers)

set(qatc_library_targets qatc_support qatc_ir qatc_frontend qatc_passes qatc_sim qatc_targets)
install(TARGETS ${qatc_library_targets} EXPORT qatcTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
foreach(dir support ir frontend passes sim targets)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/qatc/${dir}
          FILES_MATCHING PATTERN "*.h")
endforeach()
install(EXPORT qatcTargets NAMESPACE qatc:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/qatc)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/qatcConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/qatcConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/qatc)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/qatcConfig.cmake DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/qatc)
