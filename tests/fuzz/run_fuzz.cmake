# run_fuzz.cmake: one ctest of a fuzz target (tests/fuzz/CMakeLists.txt).
#   cmake -DFUZZER=BIN -DNAME=N -DSEEDS=DIR -DWORK=DIR -DSECONDS=S [-DDICT=FILE] -P run_fuzz.cmake
# Copies the seeds into WORK/corpus/N (what earlier runs found stays there), fuzzes for S seconds, keeps the whole
# log in WORK/fuzz-logs/N.log and prints libFuzzer's closing figures, or the crash report and fails.
set(corpus ${WORK}/corpus/${NAME})
set(artifacts ${WORK}/fuzz-artifacts/${NAME})
set(log ${WORK}/fuzz-logs/${NAME}.log)
file(MAKE_DIRECTORY ${corpus} ${artifacts} ${WORK}/fuzz-logs ${WORK}/fuzz-tmp)
file(COPY ${SEEDS}/ DESTINATION ${corpus})

set(args -max_total_time=${SECONDS} -timeout=30 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix=${artifacts}/)
if(DICT)
  list(APPEND args -dict=${DICT})
endif()
# A fixed seed makes a CI run repeat the same search (0: libFuzzer picks one, for hunting).
if(DEFINED SEED AND NOT SEED STREQUAL "" AND NOT SEED STREQUAL "0")
  list(APPEND args -seed=${SEED})
endif()
# libFuzzer writes its progress to stderr; naming one file for both keeps their order.
execute_process(COMMAND ${FUZZER} ${args} ${corpus} RESULT_VARIABLE rc OUTPUT_FILE ${log} ERROR_FILE ${log})
file(READ ${log} out)

string(REGEX MATCH "#[0-9]+[ \t]+DONE[^\n]*" done "${out}")
string(REGEX MATCH "Done [0-9]+ runs in [0-9]+ second\\(s\\)" runs "${out}")
if(rc EQUAL 0 AND done)
  message("fuzz ${NAME}: ${runs}")
  message("fuzz ${NAME}: ${done}")
  return()
endif()

# A crash, a leak, a timeout or a broken invariant: show from the report on (the log has everything).
set(at -1)
foreach(marker "FUZZ CHECK FAILED" "==ERROR:" "runtime error:" "ERROR: libFuzzer" "deadly signal")
  string(FIND "${out}" "${marker}" pos)
  if(pos GREATER -1 AND (at EQUAL -1 OR pos LESS at))
    set(at ${pos})
  endif()
endforeach()
if(at GREATER -1)
  string(SUBSTRING "${out}" ${at} 6000 report)
else()
  string(LENGTH "${out}" len)
  math(EXPR at "${len} > 6000 ? ${len} - 6000 : 0")
  string(SUBSTRING "${out}" ${at} -1 report)
endif()
message("${report}")
message(FATAL_ERROR "fuzz ${NAME}: failed (exit ${rc}); inputs in ${artifacts}, log in ${log}")
