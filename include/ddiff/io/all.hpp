// Every io/ header: safetensors files and checkpoints, config.json.
#pragma once

#include "ddiff/io/checkpoint.hpp"
#include "ddiff/io/config.hpp"
#include "ddiff/io/dtype.hpp"
#include "ddiff/io/mapped_file.hpp"
#include "ddiff/io/safetensors.hpp"
