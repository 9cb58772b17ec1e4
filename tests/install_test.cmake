# ctest `install`: `cmake --install` of the build into a scratch prefix installs exactly the binary, the docs and
# the editor files, and the installed stratrun runs strategies/hello.lua from a folder outside the source tree (its
# stdlib is compiled in), which the installed luacheck standard passes when luacheck is there. Run with -P;
# BUILD_DIR, SOURCE_DIR, PREFIX and VERSION are given with -D (see CMakeLists.txt).
file(REMOVE_RECURSE ${PREFIX})

execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} --prefix ${PREFIX} failed (${rc}):\n${out}")
endif()

# What is installed: bin/stratrun, the README, and docs/*.md beside it (so the README's links work), and the editor
# files (docs/editor.md) in share/stratrun/editor, each the same bytes as in the source tree.
set(want bin/stratrun share/doc/stratrun/README.md)
file(GLOB docs RELATIVE ${SOURCE_DIR}/docs ${SOURCE_DIR}/docs/*.md)
foreach(doc ${docs})
  list(APPEND want share/doc/stratrun/docs/${doc})
endforeach()
set(editor_files stratrun.lua stratrun_ext.lua .luarc.json .luacheckrc)
foreach(f ${editor_files})
  list(APPEND want share/stratrun/editor/${f})
endforeach()
file(GLOB_RECURSE got RELATIVE ${PREFIX} ${PREFIX}/*)
list(SORT want)
list(SORT got)
if(NOT got STREQUAL want)
  message(FATAL_ERROR "installed files differ\n  expected: ${want}\n  installed: ${got}")
endif()
foreach(doc README.md ${docs})
  if(NOT doc STREQUAL "README.md")
    set(doc docs/${doc})
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${SOURCE_DIR}/${doc} ${PREFIX}/share/doc/stratrun/${doc}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "share/doc/stratrun/${doc} is not a copy of ${SOURCE_DIR}/${doc}")
  endif()
endforeach()
foreach(f ${editor_files})
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${SOURCE_DIR}/editor/${f} ${PREFIX}/share/stratrun/editor/${f}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "share/stratrun/editor/${f} is not a copy of ${SOURCE_DIR}/editor/${f}")
  endif()
endforeach()

set(bin ${PREFIX}/bin/stratrun)
execute_process(COMMAND ${bin} --version RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out STREQUAL "stratrun ${VERSION}\n")
  message(FATAL_ERROR "${bin} --version: exit ${rc}, printed '${out}', expected 'stratrun ${VERSION}'\n${err}")
endif()

# The sample, copied out of the source tree and run from its own folder with the installed binary.
set(run ${PREFIX}/run)
file(MAKE_DIRECTORY ${run})
file(COPY ${SOURCE_DIR}/strategies/hello.lua DESTINATION ${run})
execute_process(COMMAND ${bin} --data-dir ${run}/data --id hello hello.lua WORKING_DIRECTORY ${run}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 30)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the installed stratrun exited ${rc} on hello.lua\nstdout:\n${out}\nstderr:\n${err}")
endif()
foreach(line "hello from bot hello - runs so far: 0" "round 3 of 3 last price" "bye after 3 rounds")
  string(FIND "${out}" "${line}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the installed stratrun's output lacks '${line}':\n${out}\nstderr:\n${err}")
  endif()
endforeach()
file(READ ${run}/data/bots/hello/status.txt status)
if(NOT status MATCHES "^Hello\n.*\\| Round \\| Time +\\| Last +\\|\n.*\\| 3 +\\|")
  message(FATAL_ERROR "the status panel of hello.lua is not its last round's:\n${status}")
endif()

# The installed luacheck standard, copied beside the sample as a user copies it, passes it (when luacheck is there).
find_program(LUACHECK luacheck)
if(LUACHECK)
  file(COPY ${PREFIX}/share/stratrun/editor/.luacheckrc DESTINATION ${run})
  execute_process(COMMAND ${LUACHECK} --no-color hello.lua WORKING_DIRECTORY ${run}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 30)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "luacheck with the installed .luacheckrc exited ${rc} on hello.lua:\n${out}${err}")
  endif()
endif()
file(REMOVE_RECURSE ${PREFIX})
