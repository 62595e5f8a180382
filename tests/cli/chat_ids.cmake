# ddiff generate --chat on a checkpoint with a real tokenizer: the prompt ids ddiff decodes
# from must equal Hugging Face's ids for the same conversation (DIR/chat_prompt_golden.json,
# written by tools/tokenizer/make_tiny_bpe_checkpoints.py with Python jinja2 + HF tokenizers),
# and ddiff detokenize of those ids must give back the rendered template.
# Usage: cmake -DDDIFF=path/to/ddiff -DDIR=checkpoint -P chat_ids.cmake
file(READ ${DIR}/chat_prompt_golden.json golden)
string(JSON n LENGTH "${golden}" ids)
math(EXPR last "${n} - 1")
set(want "")
foreach(i RANGE ${last})
  string(JSON id GET "${golden}" ids ${i})
  list(APPEND want ${id})
endforeach()
string(JSON system GET "${golden}" messages 0 content)
string(JSON user GET "${golden}" messages 1 content)
string(JSON rendered GET "${golden}" rendered)
execute_process(COMMAND ${DDIFF} generate --model ${DIR} --chat --system "${system}" --prompt "${user}"
                        --length 4 --steps 4 --print-ids --no-progress
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ddiff generate --chat failed (${rc}):\n${err}")
endif()
string(STRIP "${out}" out)
string(REPLACE " " ";" got "${out}")
list(SUBLIST got 0 ${n} prompt)
if(NOT prompt STREQUAL want)
  message(FATAL_ERROR "prompt ids differ from Hugging Face's:\n ddiff: ${prompt}\n HF:    ${want}")
endif()
list(LENGTH got total)
math(EXPR generated "${total} - ${n}")
if(NOT generated EQUAL 4)
  message(FATAL_ERROR "expected 4 generated positions after the prompt, got ${generated}")
endif()
string(REPLACE ";" "," csv "${want}")
execute_process(COMMAND ${DDIFF} detokenize --model ${DIR} --ids ${csv}
                RESULT_VARIABLE rc OUTPUT_VARIABLE text ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT text STREQUAL "${rendered}\n")
  message(FATAL_ERROR "ddiff detokenize of HF's ids (${rc}) gave\n${text}\nexpected\n${rendered}\n${err}")
endif()
message(STATUS "prompt ids equal Hugging Face's (${n} ids); detokenize gives the rendered template")
