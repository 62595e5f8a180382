# The tokenizer a GGUF file carries (tokenizer.ggml.*) against its tokenizer.json twin and Hugging
# Face: tests/data/gguf/llada_tiny_bpe.gguf is llada_tiny_bpe's tokenizer as llama.cpp's
# convert_hf_to_gguf.py writes it (tools/gguf/make_gguf.py, gguf-py). The rendered chat prompt of
# DIR/chat_prompt_golden.json gives Hugging Face's ids (tokenizers 0.22.2); every text below gives
# the same ids from the GGUF file as from the tokenizer.json; detokenize of HF's ids gives the text.
# Usage: cmake -DDDIFF=path/to/ddiff -DDIR=checkpoint -DGGUF=file.gguf -P gguf_tokenizer.cmake
function(ids model text out)
  execute_process(COMMAND ${DDIFF} tokenize --model ${model} --text "${text}" --ids-only
                  RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "ddiff tokenize --model ${model} failed (${rc}):\n${err}")
  endif()
  string(STRIP "${o}" o)
  set(${out} "${o}" PARENT_SCOPE)
endfunction()

file(READ ${DIR}/chat_prompt_golden.json golden)
string(JSON n LENGTH "${golden}" ids)
math(EXPR last "${n} - 1")
set(want "")
foreach(i RANGE ${last})
  string(JSON id GET "${golden}" ids ${i})
  list(APPEND want ${id})
endforeach()
string(REPLACE ";" "," want "${want}")
string(JSON rendered GET "${golden}" rendered)
ids(${GGUF} "${rendered}" got)
if(NOT got STREQUAL want)
  message(FATAL_ERROR "GGUF tokenizer ids differ from Hugging Face's:\n ddiff: ${got}\n HF:    ${want}")
endif()
execute_process(COMMAND ${DDIFF} detokenize --model ${GGUF} --ids ${want}
                RESULT_VARIABLE rc OUTPUT_VARIABLE text ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT text STREQUAL "${rendered}\n")
  message(FATAL_ERROR "detokenize with the GGUF tokenizer (${rc}) gave\n${text}\nexpected\n${rendered}\n${err}")
endif()
set(texts "In the beginning God created the heaven and the earth." "Hello, world! It's 2026: 12345 apples"
          "  leading spaces\n\nand\ttabs  " "don't WE'LL they're" "<|eot_id|>x<|mdm_mask|> <|endoftext|>"
          "café € 100 ünïcödé")
foreach(t IN LISTS texts)
  ids(${GGUF} "${t}" a)
  ids(${DIR} "${t}" b)
  if(NOT a STREQUAL b)
    message(FATAL_ERROR "'${t}': GGUF ids ${a}, tokenizer.json ids ${b}")
  endif()
endforeach()
message(STATUS "GGUF tokenizer: Hugging Face's ids (${n}), the tokenizer.json's ids on every text")
