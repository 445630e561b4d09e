# Sanitizers.cmake - SANITIZE=ON builds everything with ASan+UBSan (style.md 6.2).
if(SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
# The fuzz build instruments every library for coverage, so libFuzzer sees into lib/.
if(ENABLE_FUZZING)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
