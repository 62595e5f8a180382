// Every step rule of ddiff (docs/samplers.md).
#pragma once

#include "ddiff/sampler/ancestral.hpp"
#include "ddiff/sampler/dinfer_hierarchical.hpp"
#include "ddiff/sampler/dinfer_threshold.hpp"
#include "ddiff/sampler/dream_count.hpp"
#include "ddiff/sampler/duo.hpp"
#include "ddiff/sampler/eb.hpp"
#include "ddiff/sampler/factor.hpp"
#include "ddiff/sampler/first_hitting.hpp"
#include "ddiff/sampler/maskgit.hpp"
#include "ddiff/sampler/remdm.hpp"
#include "ddiff/sampler/schedule_count.hpp"
#include "ddiff/sampler/sdar.hpp"
#include "ddiff/sampler/sedd_analytic.hpp"
#include "ddiff/sampler/sedd_euler.hpp"
#include "ddiff/sampler/threshold.hpp"
#include "ddiff/sampler/top_k.hpp"
