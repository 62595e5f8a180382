// Every remasking strategy of ddiff (docs/remask.md).
#pragma once

#include "ddiff/remask/confidence.hpp"
#include "ddiff/remask/credit.hpp"
#include "ddiff/remask/entropy.hpp"
#include "ddiff/remask/klass.hpp"
#include "ddiff/remask/low_confidence.hpp"
#include "ddiff/remask/margin.hpp"
#include "ddiff/remask/maskgit_gumbel.hpp"
#include "ddiff/remask/pc_sampler.hpp"
#include "ddiff/remask/random.hpp"
