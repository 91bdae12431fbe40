# What an installed libsnowrt offers other builds:
#   CMake     find_package(snowrt) -> snowrt::snowrt (libsnowrt.so),
#             snowrt::snowrt_static (libsnowrt.a with its dependencies),
#             snowrt::main (libsnowrt_main.a, the main() of a generated
#             program), snowrt::inline (the inline reduction check header)
#   pkg-config  snowrt (shared; `--static` for the archive's dependencies)
#               and snowrt-static (links libsnowrt.a itself)
# docs/using.md shows each; tests/consumer builds a project with each.
include(CMakePackageConfigHelpers)
include(GNUInstallDirs)

set(SNOW_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/snowrt)
install(EXPORT snowrtTargets NAMESPACE snowrt:: DESTINATION ${SNOW_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/snowrtConfig.cmake.in
  ${PROJECT_BINARY_DIR}/snowrtConfig.cmake INSTALL_DESTINATION ${SNOW_CMAKE_DIR})
# Same major version: same ABI (SameMajorVersion).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/snowrtConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/snowrtConfig.cmake ${PROJECT_BINARY_DIR}/snowrtConfigVersion.cmake
  DESTINATION ${SNOW_CMAKE_DIR})

# pkg-config: the prefix is found from the .pc file's own place
# (${pcfiledir}), so `cmake --install --prefix` anywhere and a moved prefix
# work.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(SNOW_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH SNOW_PC_UP "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  set(SNOW_PC_PREFIX "\${pcfiledir}/${SNOW_PC_UP}")
endif()
foreach(pc snowrt snowrt-static)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
