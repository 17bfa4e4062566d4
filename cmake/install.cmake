# make install / make deb: what a C project people install ships.
#
#   bin/chaperone                       the binary
#   lib/libchaperone.so.0 (+ .so, .a)   the library, SONAME libchaperone.so.0
#   lib/libchaperone_interceptor.so     the librdkafka plugin (found by name:
#                                       plugin.library.paths=libchaperone_interceptor)
#   lib/pkgconfig/chaperone.pc          pkg-config --cflags --libs chaperone
#   include/chaperone.h                 the public API
#   share/man/man1/chaperone*.1         generated from --help and the key table
#   share/chaperone/examples/           a .properties file per component
#   lib/systemd/system/chaperone-*@.service   hardened units
#   share/doc/chaperone/                the documentation
#
# PREFIX (default /usr/local) and DESTDIR are honoured; the pkg-config file
# and the units are written at install time, so `cmake --install --prefix`
# gets paths that match where the files went.
include(GNUInstallDirs)

install(TARGETS chaperone_bin RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT daemon)
install(TARGETS chaperone LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        COMPONENT lib NAMELINK_COMPONENT dev)
install(TARGETS chaperone_static ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        COMPONENT dev)
install(FILES ${CMAKE_SOURCE_DIR}/include/chaperone.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
if(TARGET chaperone_interceptor)
  install(TARGETS chaperone_interceptor LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          COMPONENT daemon)
endif()

# Man pages, made by the built binary itself (scripts/mkman.sh).
set(CHP_MAN_DIR ${CMAKE_BINARY_DIR}/man)
add_custom_command(OUTPUT ${CHP_MAN_DIR}/chaperone.1
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/mkman.sh $<TARGET_FILE:chaperone_bin> ${CHP_MAN_DIR}
  DEPENDS chaperone_bin ${CMAKE_SOURCE_DIR}/scripts/mkman.sh
  COMMENT "Generating the man pages")
add_custom_target(man ALL DEPENDS ${CHP_MAN_DIR}/chaperone.1)
install(DIRECTORY ${CHP_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        COMPONENT daemon FILES_MATCHING PATTERN "*.1")

install(DIRECTORY ${CMAKE_SOURCE_DIR}/config/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/chaperone/examples COMPONENT daemon)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ ${CMAKE_SOURCE_DIR}/contrib/prometheus
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT daemon)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
        COMPONENT daemon)

# Files whose content names install paths: written at install time.
set(CHP_INSTALL_TEMPLATES ${CMAKE_SOURCE_DIR})
install(CODE "
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  if(prefix STREQUAL \"/usr\")
    set(sysconf /etc)
  else()
    set(sysconf \"\${prefix}/etc\")
  endif()
  set(PREFIX \"\${prefix}\")
  set(LIBDIR \"\${prefix}/${CMAKE_INSTALL_LIBDIR}\")
  set(INCLUDEDIR \"\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}\")
  set(BINDIR \"\${prefix}/${CMAKE_INSTALL_BINDIR}\")
  set(DATADIR \"\${prefix}/${CMAKE_INSTALL_DATADIR}\")
  set(SYSCONFDIR \"\${sysconf}\")
  set(VERSION \"${PROJECT_VERSION}\")
  set(tmp \"${CMAKE_BINARY_DIR}/install-gen\")
  configure_file(\"${CMAKE_SOURCE_DIR}/cmake/chaperone.pc.in\" \"\${tmp}/chaperone.pc\" @ONLY)
  file(INSTALL \"\${tmp}/chaperone.pc\"
       DESTINATION \"\${prefix}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
" COMPONENT dev)
foreach(unit worker collector controller)
  install(CODE "
    set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
    if(prefix STREQUAL \"/usr\")
      set(SYSCONFDIR /etc)
    else()
      set(SYSCONFDIR \"\${prefix}/etc\")
    endif()
    set(BINDIR \"\${prefix}/${CMAKE_INSTALL_BINDIR}\")
    set(DATADIR \"\${prefix}/${CMAKE_INSTALL_DATADIR}\")
    set(tmp \"${CMAKE_BINARY_DIR}/install-gen\")
    configure_file(\"${CMAKE_SOURCE_DIR}/contrib/systemd/chaperone-${unit}@.service.in\"
                   \"\${tmp}/chaperone-${unit}@.service\" @ONLY)
    file(INSTALL \"\${tmp}/chaperone-${unit}@.service\"
         DESTINATION \"\${prefix}/lib/systemd/system\")
  " COMPONENT daemon)
endforeach()

# Debian packages (make deb): libchaperone0, libchaperone-dev, chaperone.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME chaperone)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Chaperone developers <chaperone@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Kafka audit system: did every message arrive at every stage, and how late")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev daemon)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_LIB_PACKAGE_NAME libchaperone0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libchaperone-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libchaperone0 (= ${PROJECT_VERSION}), librdkafka-dev, libjansson-dev")
set(CPACK_DEBIAN_DAEMON_PACKAGE_NAME chaperone)
set(CPACK_DEBIAN_DAEMON_PACKAGE_RECOMMENDS "kcat")
set(CPACK_COMPONENT_LIB_DESCRIPTION "Chaperone audit library (runtime)")
set(CPACK_COMPONENT_DEV_DESCRIPTION "Chaperone audit library (development files)")
set(CPACK_COMPONENT_DAEMON_DESCRIPTION "Chaperone daemons (worker, controller, collector), report tools and librdkafka interceptor plugin")
include(CPack)

add_test(NAME integration/install
         COMMAND ${CMAKE_SOURCE_DIR}/tests/install/check-install.sh ${CMAKE_BINARY_DIR})
set_tests_properties(integration/install PROPERTIES LABELS integration
                     SKIP_RETURN_CODE 77 TIMEOUT 300)
add_test(NAME integration/deb_package
         COMMAND ${CMAKE_SOURCE_DIR}/tests/install/check-deb.sh ${CMAKE_BINARY_DIR})
set_tests_properties(integration/deb_package PROPERTIES LABELS integration
                     SKIP_RETURN_CODE 77 TIMEOUT 600 RUN_SERIAL TRUE)

add_test(NAME unit/prometheus_rules
         COMMAND ${CMAKE_SOURCE_DIR}/tests/prometheus/check-rules.sh)
set_tests_properties(unit/prometheus_rules PROPERTIES LABELS unit
                     SKIP_RETURN_CODE 77)
