# Install rules (INSTASENT_INSTALL) and the .deb packages CPack makes of them:
#   runtime  the shared library                                  -> instasent
#   dev      headers, the static library or the .so link, the CMake package (with
#            instasent_add_emulator_fixture), instasent.pc and <instasent-emulator/testing.hpp>
#                                                                -> instasent-dev
#   tools    the `instasent` tool and `instasent-emulator`, their man pages (cmake/ManPages.cmake)
#            and docs (share/doc/instasent/cli.md, emulator.md)  -> instasent-tools
include(CMakePackageConfigHelpers)

set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/instasent)
install(TARGETS instasent EXPORT instasentTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY include/instasent ${PROJECT_BINARY_DIR}/include/instasent
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(EXPORT instasentTargets NAMESPACE instasent:: DESTINATION ${config_dir} COMPONENT dev)
configure_package_config_file(cmake/instasentConfig.cmake.in
  ${PROJECT_BINARY_DIR}/instasentConfig.cmake INSTALL_DESTINATION ${config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/instasentConfigVersion.cmake
  COMPATIBILITY ${INSTASENT_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/instasentConfig.cmake
              ${PROJECT_BINARY_DIR}/instasentConfigVersion.cmake
              tools/emulator/fixture/instasentEmulatorFixture.cmake
        DESTINATION ${config_dir} COMPONENT dev)
# The emulator in users' own tests: the CTest fixture's script (instasent_add_emulator_fixture)
# and the header-only GoogleTest helper. Neither uses the library; the emulator itself comes with
# the tools.
install(PROGRAMS tools/emulator/fixture/emulator-fixture.sh DESTINATION ${config_dir}
        COMPONENT dev)
install(DIRECTORY tools/emulator/fixture/instasent-emulator
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)

# pkg-config: paths relative to the prefix, so that an unpacked tree works too
# (pkg-config --define-prefix).
foreach(kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(INSTASENT_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(INSTASENT_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
configure_file(cmake/instasent.pc.in ${PROJECT_BINARY_DIR}/instasent.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/instasent.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT dev)

if(INSTASENT_BUILD_TOOLS)
  install(TARGETS instasent_cli instasent-emulator RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
          COMPONENT tools)
  install(FILES docs/cli.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT tools)
  install(FILES tools/emulator/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME emulator.md
          COMPONENT tools)
  get_property(man_pages GLOBAL PROPERTY INSTASENT_MAN_PAGES)
  if(man_pages)
    install(FILES ${man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
  endif()
endif()

set(CPACK_PACKAGE_NAME instasent)
set(CPACK_PACKAGE_VENDOR "Instasent")
set(CPACK_PACKAGE_CONTACT "Instasent <support@instasent.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGE_FILE_NAME_DEFAULT ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME instasent)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "libcurl4 (>= 7.85)")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME instasent-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "instasent (= ${PROJECT_VERSION}), nlohmann-json3-dev (>= 3.10), libcurl4-openssl-dev (>= 7.85) | libcurl-dev")
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME instasent-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "libcurl4 (>= 7.85), zlib1g")
if(INSTASENT_CLI_KAFKA)  # `instasent consume` (tools/cli/CMakeLists.txt)
  string(APPEND CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS ", librdkafka1 (>= 2.0)")
endif()
set(CPACK_COMPONENTS_ALL runtime dev)
if(INSTASENT_BUILD_TOOLS)
  list(APPEND CPACK_COMPONENTS_ALL tools)
endif()
include(CPack)
