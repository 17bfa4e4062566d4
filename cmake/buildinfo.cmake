# The git revision the binary was built from, for `chaperone version`.
# Taken at configure time (CI configures a fresh clone); "unknown" outside
# a git checkout, e.g. when building from a source tarball.
find_package(Git QUIET)
set(CHP_GIT_REV "unknown")
if(GIT_FOUND AND EXISTS ${CMAKE_SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty --abbrev=12
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                  OUTPUT_VARIABLE CHP_GIT_REV OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
  if(NOT CHP_GIT_REV)
    set(CHP_GIT_REV "unknown")
  endif()
endif()
configure_file(${CMAKE_SOURCE_DIR}/cmake/buildinfo.h.in
               ${CMAKE_BINARY_DIR}/generated/buildinfo.h @ONLY)
