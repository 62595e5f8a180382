// The Qwen-family checkpoints' instantiations (runtime/checkpoint_qwen.hpp), in a translation unit
// of their own so that session.cpp's build does not grow with them.
#include <ddiff/runtime/checkpoint_qwen.hpp>
