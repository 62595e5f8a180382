// Every noise schedule of ddiff (../docs/schedules.md lists formulas and sources).
#pragma once

#include "ddiff/schedule/bd3lm.hpp"
#include "ddiff/schedule/common.hpp"
#include "ddiff/schedule/cosine.hpp"
#include "ddiff/schedule/d3pm.hpp"
#include "ddiff/schedule/log_linear.hpp"
#include "ddiff/schedule/maskgit.hpp"
#include "ddiff/schedule/remdm_loop.hpp"
#include "ddiff/schedule/sigma_schedules.hpp"
