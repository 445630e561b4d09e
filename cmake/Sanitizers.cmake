# Sanitizers.cmake - SANITIZE=ON (or address) builds everything with ASan+UBSan; SANITIZE=thread
# with ThreadSanitizer, which cannot be combined with ASan (style.md 6.2).
string(TOLOWER "${SANITIZE}" OBSFLOW_SANITIZE)
if(OBSFLOW_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
  add_compile_definitions(OBSFLOW_TSAN=1)
elseif(SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
# The fuzz build instruments every library for coverage, so libFuzzer sees into lib/.
if(ENABLE_FUZZING)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
