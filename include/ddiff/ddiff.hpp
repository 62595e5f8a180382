// ddiff umbrella header: everything a user composes a diffusion decoder from.
#pragma once

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"
#include "ddiff/core/logits.hpp"
#include "ddiff/core/rng.hpp"
#include "ddiff/core/sampling.hpp"
#include "ddiff/core/types.hpp"
#include "ddiff/model/oracle/markov_chain.hpp"
#include "ddiff/model/oracle/markov_oracle.hpp"
#include "ddiff/process/absorbing.hpp"
#include "ddiff/process/uniform.hpp"
#include "ddiff/schedule/all.hpp"
#include "ddiff/decoder/decoder.hpp"
#include "ddiff/remask/scores.hpp"
#include "ddiff/sampler/count_rules.hpp"
#include "ddiff/sampler/per_position.hpp"
