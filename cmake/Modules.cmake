# Modules.cmake - obsflow_module(): one static library per lib/<mod>, sources globbed.
#   obsflow_module(<mod> [DEPS obsflow_x ...] [PKGS PkgConfig::X ...])
# Creates target obsflow_<mod>; includes are written relative to lib/ ("core/err.h").
function(obsflow_module mod)
  cmake_parse_arguments(M "" "" "DEPS;PKGS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
  if(NOT srcs)
    return()  # module directory without sources yet
  endif()
  add_library(obsflow_${mod} STATIC ${srcs})
  target_include_directories(obsflow_${mod} PUBLIC ${PROJECT_SOURCE_DIR}/lib)
  target_link_libraries(obsflow_${mod} PUBLIC ${M_DEPS} ${M_PKGS})
  obsflow_warnings(obsflow_${mod})
  set_property(GLOBAL APPEND PROPERTY OBSFLOW_MODULES obsflow_${mod})
endfunction()
