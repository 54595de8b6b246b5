# The API reference: `cmake --build build --target docs` runs Doxygen over the public headers
# (include/instasent/ and the generated version.hpp) into build/docs/html. Any warning, such as
# an undocumented type, function, member or macro, fails the target.
#
# doxygen_add_docs rather than a Doxyfile template: the settings are the DOXYGEN_* variables below
# (a few restate Doxygen's defaults, to make the rules plain), and CMake writes the Doxyfile into
# the build tree.
find_package(Doxygen)
if(NOT DOXYGEN_FOUND)
  message(STATUS "Doxygen not found: no `docs` target")
  return()
endif()

set(DOXYGEN_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/docs)
set(DOXYGEN_GENERATE_HTML YES)
set(DOXYGEN_GENERATE_LATEX NO)
set(DOXYGEN_WARN_IF_UNDOCUMENTED YES)
set(DOXYGEN_WARN_AS_ERROR FAIL_ON_WARNINGS)  # report every warning, then fail
set(DOXYGEN_EXTRACT_ALL NO)
set(DOXYGEN_EXTRACT_PRIVATE NO)
# Pages named instasent/client.hpp, as users include them.
set(DOXYGEN_STRIP_FROM_PATH ${PROJECT_SOURCE_DIR}/include ${generated_include})
set(DOXYGEN_STRIP_FROM_INC_PATH ${PROJECT_SOURCE_DIR}/include ${generated_include})
# INSTASENT_EXPORT (the visibility attribute) is not part of a declaration's meaning.
set(DOXYGEN_MACRO_EXPANSION YES)
set(DOXYGEN_EXPAND_ONLY_PREDEF YES)
set(DOXYGEN_PREDEFINED INSTASENT_EXPORT=)
# The headers only forward-declare instasent::detail, which is not part of the API.
set(DOXYGEN_EXCLUDE_SYMBOLS instasent::detail)
# Doxygen 1.9.4 (Debian 12) reads the quote of a digit separator (10'000) as the start of a
# character literal and loses the comments that follow: it reads the headers with the separators
# taken out (10000).
set(digit_separators ${PROJECT_BINARY_DIR}/docs/digit-separators.sed)
file(WRITE ${digit_separators} "s/\\([0-9]\\)'\\([0-9]\\)/\\1\\2/g\n")
set(DOXYGEN_INPUT_FILTER "sed -f ${digit_separators}")

file(GLOB public_headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/instasent/*.hpp)
doxygen_add_docs(docs ${public_headers} ${generated_include}/instasent/version.hpp
                 COMMENT "API reference into ${DOXYGEN_OUTPUT_DIRECTORY}/html")
