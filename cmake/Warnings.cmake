# Warnings.cmake - the warning set (style.md 6.1), applied per target by obsflow_warnings().
set(OBSFLOW_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition
  -Wcast-qual -Wpointer-arith -Wwrite-strings -Wundef -Wvla
  -Wformat=2 -Wformat-security -Wimplicit-fallthrough -Wredundant-decls
  -Werror=implicit-function-declaration -Werror=incompatible-pointer-types)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  # gcc flags intentional snprintf truncation; clang has no such warning
  list(APPEND OBSFLOW_WARNINGS -Wno-format-truncation)
endif()
if(ENABLE_WERROR)
  list(APPEND OBSFLOW_WARNINGS -Werror)
endif()
add_compile_definitions(_POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)

function(obsflow_warnings target)
  target_compile_options(${target} PRIVATE ${OBSFLOW_WARNINGS})
endfunction()
