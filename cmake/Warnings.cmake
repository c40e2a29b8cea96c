# tokrl_set_warnings(target): the project's warning set (style.md section 8.4).
function(tokrl_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-qual
    -Wmissing-declarations -Wextra-semi)
  if(TOKRL_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
