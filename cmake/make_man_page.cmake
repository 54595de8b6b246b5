# Writes the man page of one of the tools; run in script mode (cmake -P) by the custom commands of
# cmake/ManPages.cmake, with:
#   PROGRAM   the built program        NAME  its name on disk
#   SUMMARY   the NAME section's text  DOC   the installed doc that SEE ALSO names
#   OUTPUT    the page to write (NAME.1); NAME.1.gz is written beside it
#   HELP2MAN, GZIP  the programs
#
# help2man makes the page from `PROGRAM --help` and `PROGRAM --version`. A program with
# subcommands gets a COMMANDS section as well: the --help of every command that has none of its
# own, found by walking the "Subcommands:" lists, so that the page documents every option.
cmake_minimum_required(VERSION 3.22)

foreach(variable PROGRAM NAME SUMMARY DOC OUTPUT HELP2MAN GZIP)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "make_man_page.cmake: ${variable} is not set")
  endif()
endforeach()

# What `PROGRAM words... --help` prints.
function(help_of out words)
  separate_arguments(arguments UNIX_COMMAND "${words}")
  execute_process(COMMAND ${PROGRAM} ${arguments} --help OUTPUT_VARIABLE text
                  RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${NAME} ${words} --help failed (${status})")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# The text's first line into `line_out`, the rest into `rest_out`. The text is handled as a string
# rather than a CMake list, since the help holds semicolons.
function(split_first_line text line_out rest_out)
  string(FIND "${text}" "\n" end)
  if(end EQUAL -1)
    set(${line_out} "${text}" PARENT_SCOPE)
    set(${rest_out} "" PARENT_SCOPE)
  else()
    string(SUBSTRING "${text}" 0 ${end} line)
    math(EXPR next "${end} + 1")
    string(SUBSTRING "${text}" ${next} -1 rest)
    set(${line_out} "${line}" PARENT_SCOPE)
    set(${rest_out} "${rest}" PARENT_SCOPE)
  endif()
endfunction()

# The subcommands a --help lists, one per line under "Subcommands:", as words separated by
# spaces.
function(subcommands_of out help)
  set(names "")
  string(FIND "${help}" "\nSubcommands:\n" at)
  if(NOT at EQUAL -1)
    math(EXPR at "${at} + 14")
    string(SUBSTRING "${help}" ${at} -1 rest)
    while(NOT rest STREQUAL "")
      split_first_line("${rest}" line rest)
      if(NOT line MATCHES "^  ([a-z][a-z0-9-]*) ")
        break()
      endif()
      list(APPEND names ${CMAKE_MATCH_1})
    endwhile()
  endif()
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

# Text for roff: backslashes and hyphens escaped, and a line that would read as a request (or as
# a section of help2man's include file) protected.
function(roff out text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  if(text MATCHES "^[.'[/]")
    set(text "\\&${text}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# One command's --help as roff: its option lines as tagged paragraphs, the rest as text. An
# option's description starts in a column of its own (the one after two spaces on the first
# option line), even when the option fills the space before it.
function(help_as_roff out help)
  set(roff "")
  set(paragraph TRUE)
  set(column 0)
  while(NOT help STREQUAL "")
    split_first_line("${help}" line help)
    set(tag "")
    if(line MATCHES "^  ([^ ]+( [^ ]+)*)  +([^ ].*)$")
      set(tag "${CMAKE_MATCH_1}")
      set(text "${CMAKE_MATCH_3}")
      if(column EQUAL 0)
        string(LENGTH "${line}" length)
        string(LENGTH "${text}" text_length)
        math(EXPR column "${length} - ${text_length}")
      endif()
    elseif(column GREATER 2 AND line MATCHES "^  [^ ]")
      string(LENGTH "${line}" length)
      math(EXPR before "${column} - 1")
      set(edge "")
      if(length GREATER column)
        string(SUBSTRING "${line}" ${before} 2 edge)
      endif()
      if(edge MATCHES "^ [^ ]$")
        math(EXPR tag_length "${column} - 3")
        string(SUBSTRING "${line}" 2 ${tag_length} tag)
        string(SUBSTRING "${line}" ${column} -1 text)
      endif()
    endif()
    if(line MATCHES "^ *$")
      set(paragraph TRUE)
    elseif(NOT tag STREQUAL "")  # an option and its description
      roff(tag "${tag}")
      roff(text "${text}")
      string(APPEND roff ".TP\n\\fB${tag}\\fR\n${text}\n")
      set(paragraph FALSE)
    elseif(line MATCHES "^  ([^ ].*)$")  # an option whose description is on the next line
      roff(tag "${CMAKE_MATCH_1}")
      string(APPEND roff ".TP\n\\fB${tag}\\fR\n")
      set(paragraph FALSE)
    elseif(line MATCHES "^ +([^ ].*)$")  # a description that goes on
      roff(text "${CMAKE_MATCH_1}")
      string(APPEND roff "${text}\n")
    else()
      roff(text "${line}")
      if(paragraph)
        string(APPEND roff ".PP\n")
      else()
        string(APPEND roff ".br\n")
      endif()
      string(APPEND roff "${text}\n")
      set(paragraph FALSE)
    endif()
  endwhile()
  set(${out} "${roff}" PARENT_SCOPE)
endfunction()

# The commands under `words` that have no subcommands of their own, each as a section of roff.
function(commands_as_roff out words footer)
  help_of(help "${words}")
  subcommands_of(names "${help}")
  set(roff "")
  if(NOT names STREQUAL "")
    foreach(name IN LISTS names)
      string(STRIP "${words} ${name}" command)
      commands_as_roff(section "${command}" "${footer}")
      string(APPEND roff "${section}")
    endforeach()
  elseif(NOT words STREQUAL "")
    # The footer the top-level page shows already.
    string(FIND "${help}" "${footer}" at)
    if(NOT footer STREQUAL "" AND NOT at EQUAL -1)
      string(SUBSTRING "${help}" 0 ${at} help)
    endif()
    help_as_roff(body "${help}")
    roff(title "${NAME} ${words}")
    string(APPEND roff ".SS \"${title}\"\n${body}")
  endif()
  set(${out} "${roff}" PARENT_SCOPE)
endfunction()

help_of(top "")
# The footer: the top-level help's last paragraph.
string(STRIP "${top}" top)
string(FIND "${top}" "\n\n" at REVERSE)
set(footer "")
if(NOT at EQUAL -1)
  math(EXPR at "${at} + 2")
  string(SUBSTRING "${top}" ${at} -1 footer)
endif()

set(include_text "")
commands_as_roff(commands "" "${footer}")
if(NOT commands STREQUAL "")
  string(APPEND include_text "[COMMANDS]\n"
         "Each command and its options, as its \\fB\\-\\-help\\fR shows them.\n"
         "${commands}\n")
endif()
roff(doc "${DOC}")
string(APPEND include_text "[SEE ALSO]\n" "The full manual: \\fI${doc}\\fR\n")
file(WRITE ${OUTPUT}.h2m "${include_text}")

execute_process(COMMAND ${HELP2MAN} --no-info "--name=${SUMMARY}" --include=${OUTPUT}.h2m
                        --output=${OUTPUT} ${PROGRAM}
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "help2man failed for ${NAME} (${status})")
endif()
execute_process(COMMAND ${GZIP} -9 --no-name --stdout ${OUTPUT} OUTPUT_FILE ${OUTPUT}.gz
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "gzip failed for ${OUTPUT} (${status})")
endif()
