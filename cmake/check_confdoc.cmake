# Fails when docs/configuration.md differs from what the property table
# generates.  Usage: cmake -DCONFDOC=<confdoc> -DDOC=<file.md> -P this.cmake
if(NOT CONFDOC OR NOT DOC)
  message(FATAL_ERROR "usage: -DCONFDOC=<confdoc binary> -DDOC=<markdown file>")
endif()
execute_process(COMMAND ${CONFDOC}
                OUTPUT_VARIABLE generated
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${CONFDOC} failed: ${rc}")
endif()
if(NOT EXISTS ${DOC})
  message(FATAL_ERROR "docs/configuration.md is stale: run build/confdoc > docs/configuration.md")
endif()
file(READ ${DOC} committed)
# file(READ) and OUTPUT_VARIABLE both keep the bytes as they are, so a plain
# string comparison is byte for byte.
if(NOT generated STREQUAL committed)
  message(FATAL_ERROR "docs/configuration.md is stale: run build/confdoc > docs/configuration.md")
endif()
