# Warnings are errors for everything this project compiles.
function(instasent_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
endfunction()
