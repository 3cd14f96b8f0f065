# Fails the build when a source of one component of agent/ includes a component not below it:
#   cmake -DCOMPONENT=qom "-DALLOWED=base|libvirt" "-DFILES=a.cc|a.h" -DSTAMP=FILE -P check_layers.cmake
# A header of agent/ itself (config.h, metrics.h, daemon.h) belongs to the daemon, above them all.
cmake_minimum_required(VERSION 3.25)
string(REPLACE "|" ";" ALLOWED "${ALLOWED}")
string(REPLACE "|" ";" FILES "${FILES}")
foreach(file IN LISTS FILES)
  file(STRINGS ${file} includes REGEX "^#include \"agent/")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^#include \"agent/([^\"]+)\".*" "\\1" header "${line}")
    if(header MATCHES "/")
      string(REGEX REPLACE "/.*" "" used "${header}")
    else()
      set(used daemon)
    endif()
    if(NOT used STREQUAL COMPONENT AND NOT used IN_LIST ALLOWED)
      string(REPLACE ";" ", " allowed_text "${ALLOWED}")
      message(FATAL_ERROR "${file} includes agent/${header}: agent/${COMPONENT} may use only "
                          "${allowed_text} (the components below it; see README's layout)")
    endif()
  endforeach()
endforeach()
file(TOUCH ${STAMP})
