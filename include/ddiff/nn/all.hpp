// Every nn/ block in one include.
#pragma once

#include "ddiff/nn/adaln.hpp"
#include "ddiff/nn/attention.hpp"
#include "ddiff/nn/blocks.hpp"
#include "ddiff/nn/embedding.hpp"
#include "ddiff/nn/linear.hpp"
#include "ddiff/nn/lm_head.hpp"
#include "ddiff/nn/mlp.hpp"
#include "ddiff/nn/norm.hpp"
#include "ddiff/nn/rope.hpp"
#include "ddiff/nn/workspace.hpp"
