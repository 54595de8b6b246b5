# Warnings for everything this project compiles; errors too with INSTASENT_WERROR (the default
# when it is the top-level project, so that a newer compiler never breaks a parent's build).
function(instasent_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(INSTASENT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
