// ddiff umbrella header: everything a user composes a diffusion decoder from.
#pragma once

#include "ddiff/core/concepts.hpp"
#include "ddiff/core/error.hpp"
#include "ddiff/core/rng.hpp"
#include "ddiff/core/types.hpp"
#include "ddiff/decoder/decoder.hpp"
#include "ddiff/decoder/likelihood.hpp"
#include "ddiff/math/logits.hpp"
#include "ddiff/math/sampling.hpp"
#include "ddiff/model/oracle/markov_chain.hpp"
#include "ddiff/model/oracle/markov_oracle.hpp"
#include "ddiff/process/absorbing.hpp"
#include "ddiff/process/uniform.hpp"
#include "ddiff/remask/all.hpp"
#include "ddiff/sampler/all.hpp"
#include "ddiff/schedule/all.hpp"
