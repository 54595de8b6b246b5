# Man pages of the tools, made at build time by help2man from the built programs' --help and
# --version (cmake/make_man_page.cmake does the work):
#
#   instasent_man_page(TARGET NAME SUMMARY DOC)
#
# writes man/NAME.1 and man/NAME.1.gz in the build tree (target NAME_man, part of `all`). SUMMARY
# is the text of the NAME section; DOC, the installed doc that SEE ALSO names. Install.cmake
# installs the pages listed in the global property INSTASENT_MAN_PAGES (component tools).
#
# Without help2man or gzip there are no man pages (a STATUS message says so), and neither when
# cross-compiling, since the programs must run where they are built.
include_guard(GLOBAL)

find_program(INSTASENT_HELP2MAN help2man)
find_program(INSTASENT_GZIP gzip)
if(CMAKE_CROSSCOMPILING)
  message(STATUS "Cross-compiling: no man pages for the tools (help2man runs the programs)")
elseif(NOT INSTASENT_HELP2MAN OR NOT INSTASENT_GZIP)
  message(STATUS "help2man or gzip not found: no man pages for the tools")
endif()

function(instasent_man_page target name summary doc)
  if(CMAKE_CROSSCOMPILING OR NOT INSTASENT_HELP2MAN OR NOT INSTASENT_GZIP)
    return()
  endif()
  set(page ${PROJECT_BINARY_DIR}/man/${name}.1)
  set(script ${PROJECT_SOURCE_DIR}/cmake/make_man_page.cmake)
  add_custom_command(
    OUTPUT ${page} ${page}.gz
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${target}> -DNAME=${name}
            -DSUMMARY=${summary} -DDOC=${doc} -DOUTPUT=${page}
            -DHELP2MAN=${INSTASENT_HELP2MAN} -DGZIP=${INSTASENT_GZIP} -P ${script}
    DEPENDS ${target} ${script}
    COMMENT "Man page ${name}.1 (help2man)"
    VERBATIM)
  add_custom_target(${name}_man ALL DEPENDS ${page} ${page}.gz)
  set_property(GLOBAL APPEND PROPERTY INSTASENT_MAN_PAGES ${page}.gz)
endfunction()
